//! Route + pickup throughput bench (filled in below).
fn main() {}
