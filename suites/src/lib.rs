//! amp-suites: the conformance cases
