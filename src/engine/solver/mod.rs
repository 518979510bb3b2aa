//! The engine's challenge solvers: what publishes a challenge's response where the CA looks.
//!
//! - [`http01`]: a standalone HTTP-01 responder serving every pending token on one listener.

pub mod http01;
