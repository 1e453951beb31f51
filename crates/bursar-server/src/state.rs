//! The state every interface handler gets: the service layer's context.

pub use bursar_core::Ctx as AppState;
