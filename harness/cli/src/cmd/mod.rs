//! One module per subcommand.

pub mod clauses;
pub mod fuzz;
pub mod list;
pub mod mock;
pub mod run;
pub mod selftest;
pub mod vectors;
