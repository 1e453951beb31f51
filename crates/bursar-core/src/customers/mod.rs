//! Customers: the billed parties (learners, instructors, organizations).
//! What a customer is and which currency they are billed in (`model`), the
//! checks of their fields (`fields`), creating, reading, changing and
//! deleting them (`manage`), and their credit balance (`balance`).

pub mod account;
pub mod balance;
pub mod fields;
pub mod manage;
pub mod model;

pub use balance::{BalanceTransaction, BalanceTransactionCreate};
pub use bursar_store::customers::CustomerRow;
pub use manage::{create, delete, get, list, live, update, ListFilter};
pub use model::{
    billing_currency_of, credit_account, Address, CreditBalance, Customer, CustomerCreate, CustomerUpdate,
    DeletedCustomer, TaxId,
};
