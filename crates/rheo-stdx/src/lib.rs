//! Helpers shared across layers that belong to none of them.
//!
//! **Architecture invariant:** depends on nothing (not even another Rheo crate) and knows no
//! domain, wire format or storage: the codec (`rheo-proto`) and the domains both use it, so
//! anything here that knew one of them would couple the other to it.

pub mod calendar;
pub mod hist;
