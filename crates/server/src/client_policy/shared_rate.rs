//! `security.rateLimit` across replicas: with governance counters in Redis, the per-address
//! and per-user windows are sliding-window logs in the shared ledger, so N instances admit the
//! limit once, not N times.
//!
//! Why apart from `limiter`: that one keeps per-process hashed keys in memory and is exact for
//! one instance; here keys must mean the same on every instance (the address, a SHA-256 of
//! the user), and the decision is one atomic ledger step.

use std::net::IpAddr;

use heimdall_governance::ledger::{Claims, Ledger, RateClaim, Refusal};
use sha2::{Digest, Sha256};

use super::Limits;

/// The verdict: admitted, or refused with the seconds until it would be admitted and the
/// limit that refused it.
pub(crate) enum SharedVerdict {
    /// Counted and admitted.
    Admitted,
    /// Refused.
    Refused { retry_after_secs: u32, limit: u32 },
}

/// Count a request of `ip` (by its /64 for IPv6) and `user` (the user header, else the
/// credential) against `limits` in `ledger`.
pub(crate) async fn check(
    ledger: &Ledger,
    ip: Option<IpAddr>,
    user: Option<Vec<u8>>,
    limits: Limits,
    now_ms: i64,
) -> SharedVerdict {
    let ip_key = match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => format!("client:ip:{v4}"),
        Some(IpAddr::V6(v6)) => {
            format!("client:ip:{:x}/64", u128::from(v6) >> 64)
        }
        None => "client:ip:unknown".to_owned(),
    };
    let user_key = user.map(|u| {
        let digest = Sha256::digest(u);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("client:user:{hex}")
    });
    let mut claims = Claims::default();
    for who in std::iter::once(&ip_key).chain(user_key.as_ref()) {
        for (limit, window_ms) in [(limits.per_minute, 60_000), (limits.per_hour, 3_600_000)] {
            if let Some(limit) = limit {
                claims.rates.push(RateClaim {
                    key: format!("{who}:{window_ms}"),
                    window_ms,
                    limit: u64::from(limit),
                    amount: 1,
                });
            }
        }
    }
    if claims.rates.is_empty() {
        return SharedVerdict::Admitted;
    }
    match ledger.admit(now_ms, &claims).await {
        Ok(ticket) => {
            ledger.release(ticket, now_ms).await;
            SharedVerdict::Admitted
        }
        Err(Refusal::Rate {
            index,
            retry_after_ms,
        }) => SharedVerdict::Refused {
            retry_after_secs: u32::try_from((retry_after_ms.max(1) + 999) / 1000)
                .unwrap_or(u32::MAX),
            limit: claims
                .rates
                .get(index)
                .map_or(0, |c| u32::try_from(c.limit).unwrap_or(u32::MAX)),
        },
        // Fail-closed with the store down: the gateway answers 429 rather than let an
        // unbounded client through; fail-open never gets here (it counts locally).
        Err(_) => SharedVerdict::Refused {
            retry_after_secs: 1,
            limit: 0,
        },
    }
}
