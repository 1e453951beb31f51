//! Webhook endpoints registered by the platform, and their deliveries.
