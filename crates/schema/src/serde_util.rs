//! Small serde helpers for the wire quirks of OpenAI-compatible APIs.

use serde::{Deserialize, Deserializer};

/// Keep "absent" and "explicit null" apart: absent → `None` (via `#[serde(default)]`),
/// `null` → `Some(None)`, value → `Some(Some(v))`. Needed where OpenAI sends `null` on some
/// objects and omits the field on others, and a round trip must not change the bytes' meaning.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Read `null` as the type's default (e.g. an empty list).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}
