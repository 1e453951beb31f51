//! Who an operation acts for: the mode (live or test) they act in, and who
//! they are, as the audit log records them.

/// The caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Live or test mode: a caller sees only its own mode's objects.
    pub livemode: bool,
    /// `api_key`, `instructor`, `staff`, `learner` or `system`.
    pub kind: &'static str,
    /// The key, instructor, staff account or customer id.
    pub id: String,
}

impl Actor {
    pub fn api_key(livemode: bool, key_id: &str) -> Actor {
        Actor { livemode, kind: "api_key", id: key_id.to_string() }
    }

    pub fn staff(livemode: bool, staff_id: &str) -> Actor {
        Actor { livemode, kind: "staff", id: staff_id.to_string() }
    }

    pub fn system(livemode: bool) -> Actor {
        Actor { livemode, kind: "system", id: "bursar".to_string() }
    }
}
