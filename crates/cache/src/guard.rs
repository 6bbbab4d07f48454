//! The semantic tier's verifier: cheap checks that turn down a candidate whose text differs
//! from the question in a way that changes the answer but barely moves the embedding.
//!
//! Why: a sentence embedding is an average over the words, so two questions that share all
//! but one of them score high whatever that one word does. Measured on the labelled pairs
//! (`tests/semantic_pairs.rs`), at the reference threshold 0.95 cosine similarity alone lets
//! 15.6% of the near-misses through; most of those differ by a number ("fever of 38 / 40
//! degrees"), by a negation ("does / doesn't show up") or by the same words in another order
//! ("convert 5 miles to km / 5 km to miles"). Those three are decidable from the text alone,
//! with no model: a candidate is turned down when
//! - the **numbers** differ (the multisets of tokens holding a digit, number words up to
//!   twenty read as digits),
//! - the **negation** differs (an odd number of `not`/`no`/`never`/`without`/… in one text
//!   and an even number in the other; `n't`, `cannot` count), or
//! - the texts are the **same words in another order**.
//!
//! A turned-down candidate is a miss, never an error: precision first (a wrong hit serves a
//! wrong answer; a miss costs one upstream call). What these checks cannot see — one word
//! swapped for a different one of the same kind ("weekly / monthly", "import / export") — is
//! left to the threshold; the accuracy figures are in `docs/cache.md`.

/// Why a candidate was turned down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The texts hold different numbers.
    Numbers,
    /// One text is negated and the other is not.
    Negation,
    /// The same words in another order.
    WordOrder,
}

impl Mismatch {
    /// A short name for logs and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numbers => "numbers",
            Self::Negation => "negation",
            Self::WordOrder => "word_order",
        }
    }
}

/// Words that negate what follows.
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "without", "none", "nothing", "nobody", "neither", "nor",
];

/// Number words read as their digits, so "two" and "2" are the same number.
const NUMBER_WORDS: &[(&str, &str)] = &[
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("thirteen", "13"),
    ("fourteen", "14"),
    ("fifteen", "15"),
    ("sixteen", "16"),
    ("seventeen", "17"),
    ("eighteen", "18"),
    ("nineteen", "19"),
    ("twenty", "20"),
];

/// Why `candidate` (the text a cached answer was stored for) must not answer `query`, or
/// `None` when these checks find no reason.
pub fn mismatch(query: &str, candidate: &str) -> Option<Mismatch> {
    let (q, c) = (words(query), words(candidate));
    if numbers(&q) != numbers(&c) {
        return Some(Mismatch::Numbers);
    }
    if negated(&q) != negated(&c) {
        return Some(Mismatch::Negation);
    }
    if q != c && sorted(&q) == sorted(&c) {
        return Some(Mismatch::WordOrder);
    }
    None
}

/// Lower-cased words: runs of letters and digits, a number keeping its inner `.` or `,`
/// ("1.5", "10,000"); `n't` becomes a separate "not" and `cannot` is "can not".
fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let chars: Vec<char> = lower.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() {
            let c = chars[i];
            let inner_separator = matches!(c, '.' | ',')
                && i > start
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c.is_alphanumeric() || inner_separator {
                i += 1;
            } else {
                break;
            }
        }
        let word: String = chars[start..i].iter().collect();
        // "doesn't" arrives as "doesn" + "'" + "t".
        let contracted = chars.get(i) == Some(&'\'')
            && chars.get(i + 1) == Some(&'t')
            && !chars.get(i + 2).is_some_and(|c| c.is_alphanumeric());
        if contracted {
            i += 2;
            let verb = match word.as_str() {
                "can" => "can",
                "won" => "will",
                w => w.strip_suffix('n').unwrap_or(w),
            };
            out.push(verb.to_owned());
            out.push("not".to_owned());
        } else if word == "cannot" {
            out.push("can".to_owned());
            out.push("not".to_owned());
        } else {
            out.push(word);
        }
    }
    out
}

/// The numbers in `words`, sorted: tokens holding a digit (separators dropped, so "10,000"
/// and "10000" match) and number words as digits.
fn numbers(words: &[String]) -> Vec<String> {
    let mut found: Vec<String> = words
        .iter()
        .filter_map(|w| {
            if w.chars().any(|c| c.is_ascii_digit()) {
                Some(w.replace(',', ""))
            } else {
                NUMBER_WORDS
                    .iter()
                    .find(|(name, _)| name == w)
                    .map(|(_, digits)| (*digits).to_owned())
            }
        })
        .collect();
    found.sort_unstable();
    found
}

/// Whether `words` negate an odd number of times.
fn negated(words: &[String]) -> bool {
    words
        .iter()
        .filter(|w| NEGATIONS.contains(&w.as_str()))
        .count()
        % 2
        == 1
}

fn sorted(words: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = words.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_contractions_and_keep_decimal_numbers() {
        assert_eq!(
            words("Why doesn't it cost $1,000.50? I can't / cannot / won't"),
            [
                "why", "does", "not", "it", "cost", "1,000.50", "i", "can", "not", "can", "not",
                "will", "not"
            ]
        );
        assert_eq!(
            words("It’s the user’s end."),
            ["it", "s", "the", "user", "s", "end"]
        );
    }

    #[test]
    fn the_same_question_is_never_turned_down() {
        for q in [
            "How do I create an event?",
            "Convert 5 miles to km",
            "Why doesn't my event show up?",
            "",
        ] {
            assert_eq!(mismatch(q, q), None, "{q}");
        }
        // Case, punctuation and spacing are not differences.
        assert_eq!(
            mismatch("how do i create an event", "How do I create an event?!"),
            None
        );
    }

    #[test]
    fn different_numbers_are_turned_down() {
        assert_eq!(
            mismatch(
                "Is a fever of 38 degrees dangerous?",
                "Is a fever of 40 degrees dangerous?"
            ),
            Some(Mismatch::Numbers)
        );
        assert_eq!(
            mismatch("What is 15% of 80?", "What is 15% of 80.5?"),
            Some(Mismatch::Numbers)
        );
        // A number only one side states is a difference too.
        assert_eq!(
            mismatch("Set a timer", "Set a timer for 10 minutes"),
            Some(Mismatch::Numbers)
        );
        // The same numbers, however written, are not.
        assert_eq!(
            mismatch("round to two decimals", "round to 2 decimals"),
            None
        );
        assert_eq!(mismatch("10,000 steps a day", "10000 steps per day"), None);
    }

    #[test]
    fn a_negation_on_one_side_only_is_turned_down() {
        assert_eq!(
            mismatch(
                "Why does my event show up in search results?",
                "Why doesn't my event show up in search results?"
            ),
            Some(Mismatch::Negation)
        );
        assert_eq!(
            mismatch(
                "Which plans include phone support?",
                "Which plans do not include phone support?"
            ),
            Some(Mismatch::Negation)
        );
        // Negated on both sides, in different words: no difference here.
        assert_eq!(
            mismatch(
                "Why am I not receiving the email?",
                "The email never arrives, why?"
            ),
            None
        );
    }

    #[test]
    fn the_same_words_in_another_order_are_turned_down() {
        assert_eq!(
            mismatch("Convert 5 miles to km", "Convert 5 km to miles"),
            Some(Mismatch::WordOrder)
        );
        assert_eq!(
            mismatch(
                "Flights from New York to London",
                "Flights from London to New York"
            ),
            Some(Mismatch::WordOrder)
        );
        // A reworded question with other words is not a reordering.
        assert_eq!(
            mismatch(
                "How do I reverse a string in JavaScript?",
                "javascript reverse a string"
            ),
            None
        );
    }

    #[test]
    fn a_different_word_of_the_same_kind_is_left_to_the_threshold() {
        // Documented limit: nothing in the text alone says "weekly" is not "monthly".
        assert_eq!(
            mismatch(
                "Set up a recurring weekly event",
                "Set up a recurring monthly event"
            ),
            None
        );
    }
}
