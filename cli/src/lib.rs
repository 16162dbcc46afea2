//! The library half of the `edgeseal` CLI: what its tests drive in-process against
//! local stand-ins. Today that is `doctor`'s checks ([`doctor`]); the binary adds the
//! command line, output and the HTTP client.

pub mod doctor;
