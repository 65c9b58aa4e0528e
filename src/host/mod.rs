//! Host facts: everything known about the machine, read through a sysroot.
mod sysroot;
pub use sysroot::Sysroot;
