//! Authentication, error format and request-body rules (spec 08 Authentication, Error Format,
//! Error Codes, Body Size Enforcement; 04 JSON Profile).
//!
//! Each case first sends the well-formed, authenticated request of the same shape and requires
//! it to succeed, then breaks exactly one thing and checks status and error code.
