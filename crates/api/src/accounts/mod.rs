//! The rules of authd's accounts, apart from any transport: each use case is a function
//! over the application's state that takes typed input and returns a typed result or an
//! [`ApiError`]; the HTTP handlers (and the CLI) parse, call one of these, and render.
//!
//! - [`login`]: where a login is decided (throttle, password, disabled, session).
//! - [`refresh`]: where a refresh token is rotated.
//! - [`password`]: where a password is changed.
//! - [`attempts`]: how every password check counts against the login throttle.
//! - [`tokens`]: the access token issued with a session's refresh token.

pub mod attempts;
pub mod login;
pub mod password;
pub mod refresh;
pub mod tokens;

pub use login::{LoginRequest, login};
pub use password::change_password;
pub use refresh::refresh;
pub use tokens::Tokens;
