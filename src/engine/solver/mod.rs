//! The engine's challenge solvers: what publishes a challenge's response where the CA looks.
//!
//! - [`http01`]: a standalone HTTP-01 responder serving every pending token on one listener.

pub mod dns01;
pub mod http01;
pub mod rfc2136;
