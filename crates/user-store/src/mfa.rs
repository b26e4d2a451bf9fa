//! Second factors: a user's TOTP factor ([`factors`]), their recovery codes
//! ([`recovery`]), and the challenges that hold a login between its password and its
//! code ([`challenges`]). The codes themselves are computed by the caller (the api crate's
//! `accounts::mfa`): this module stores and spends, each spend one conditional statement,
//! so that of two requests with one code exactly one succeeds.

mod challenges;
mod factors;
mod recovery;

pub use challenges::{MFA_MAX_FAILURES, MfaChallenge};
pub use factors::{FactorSecret, TotpFactor};
