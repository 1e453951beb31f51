//! The course marketplace: instructors, courses and bundles, carts, orders
//! and enrollments, earnings and payouts, affiliates, reviews, wishlists.
//!
//! Every query is scoped by `livemode`; rows leave it out because their
//! callers already know it.

mod affiliates;
mod carts;
mod course_set;
mod courses;
mod earnings;
mod enrollments;
mod instructors;
mod orders;
mod provider_payouts;
mod reviews;

pub use self::affiliates::*;
pub use self::carts::*;
pub use self::courses::*;
pub use self::earnings::*;
pub use self::enrollments::*;
pub use self::instructors::*;
pub use self::orders::*;
pub use self::provider_payouts::*;
pub use self::reviews::*;
