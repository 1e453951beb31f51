//! The [`Connector`] implementation: orders, payments, refunds and webhooks
//! against Razorpay's API.

use super::*;

#[async_trait]
impl Connector for RazorpayConnector {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Razorpay
    }

    /// `POST /v1/customers` with `fail_existing: "0"`, which returns the
    /// existing customer with the same details instead of failing. The
    /// phone number is sent as `contact`, which recurring payments need.
    async fn ensure_customer(&self, customer: &CustomerInfo) -> Result<String, ProviderError> {
        let name =
            customer.name.clone().or_else(|| customer.email.clone()).unwrap_or_else(|| customer.customer_id.clone());
        let mut body = json!({
            "name": name.chars().take(50).collect::<String>(),
            "fail_existing": "0",
            "notes": { "customer_id": customer.customer_id },
        });
        if let Some(email) = &customer.email {
            body["email"] = Value::String(email.clone());
        }
        if let Some(contact) = customer.phone.as_deref().and_then(contact_of) {
            body["contact"] = Value::String(contact);
        }
        let created = self
            .call(Method::POST, "/v1/customers", Some(&body), None, Effect::Inert)
            .await
            .map_err(Failure::into_error)?;
        created["id"].as_str().map(str::to_owned).ok_or_else(|| protocol("customer without id"))
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let amount = razorpay_amount(req.amount)?;
        let receipt = receipt_for(&req.payment_id)?;
        let currency = req.amount.currency();
        let our_notes =
            notes(&[("payment_id", &req.payment_id), ("customer_id", &req.customer.customer_id)], &req.metadata);
        let mut body = json!({
            "amount": amount,
            "currency": currency,
            "receipt": receipt,
            "notes": our_notes,
        });
        let customer = if req.save_method {
            let customer = match &req.provider_customer {
                Some(c) => c.clone(),
                None => self.ensure_customer(&req.customer).await?,
            };
            body["customer_id"] = Value::String(customer.clone());
            body["method"] = Value::String("card".into());
            let expire_at = jiff::Timestamp::now().as_second() + MANDATE_YEARS * 365 * 24 * 3600;
            body["token"] = json!({
                "max_amount": amount.max(DEFAULT_MANDATE_MAX_MINOR),
                "expire_at": expire_at,
                "frequency": "as_presented",
            });
            Some(customer)
        } else {
            None
        };
        let order = self.order_for(receipt, amount, currency, body).await?;
        let order_id = order["id"].as_str().ok_or_else(|| protocol("order without id"))?.to_owned();
        let mut params = BTreeMap::from([
            ("key".to_owned(), self.config.key_id.clone()),
            ("order_id".to_owned(), order_id.clone()),
            ("amount".to_owned(), amount.to_string()),
            ("currency".to_owned(), currency.to_owned()),
            ("description".to_owned(), req.description.clone()),
            ("callback_url".to_owned(), req.success_url.clone()),
            ("notes.payment_id".to_owned(), req.payment_id.clone()),
        ]);
        if let Some(email) = &req.customer.email {
            params.insert("prefill.email".into(), email.clone());
        }
        if let Some(contact) = req.customer.phone.as_deref().and_then(contact_of) {
            params.insert("prefill.contact".into(), contact);
        }
        if let Some(customer) = customer {
            params.insert("customer_id".into(), customer);
            params.insert("recurring".into(), "1".into());
        }
        Ok(CheckoutSession { provider_ref: order_id, redirect_url: String::new(), client_params: params })
    }

    async fn complete_checkout(
        &self,
        session: &CheckoutSession,
        params: &BTreeMap<String, String>,
    ) -> Result<(ChargeOutcome, Option<MethodDetails>), ProviderError> {
        let order_id = session.provider_ref.as_str();
        let payment_id = params
            .get("razorpay_payment_id")
            .ok_or_else(|| invalid("the checkout returned no razorpay_payment_id".into()))?;
        let signature = params
            .get("razorpay_signature")
            .ok_or_else(|| invalid("the checkout returned no razorpay_signature".into()))?;
        if params.get("razorpay_order_id").is_some_and(|o| o != order_id) {
            return Err(invalid(format!("the checkout returned another order than {order_id}")));
        }
        if !verify_checkout_signature(&self.config.key_secret, order_id, payment_id, signature) {
            return Err(invalid("the checkout's payment signature does not match".into()));
        }
        let payment = self.fetch_payment(payment_id).await?;
        if payment["order_id"] != order_id {
            return Err(invalid(format!("payment {payment_id} does not belong to order {order_id}")));
        }
        let payment = self.capture(payment).await?;
        let outcome = outcome_of(&payment)?;
        let method = match outcome {
            ChargeOutcome::Succeeded { .. } => method_of(&payment),
            _ => None,
        };
        Ok((outcome, method))
    }

    /// A recurring payment on the saved token. Razorpay needs the
    /// customer's email and contact: the Razorpay customer's, else (email)
    /// ours and (contact) our customer's phone number. A customer without
    /// either is refused before anything is created.
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, ProviderError> {
        let amount = razorpay_amount(req.amount)?;
        let receipt = receipt_for(&req.payment_id)?;
        let currency = req.amount.currency();
        let customer_id = req
            .provider_customer
            .as_deref()
            .ok_or_else(|| invalid("recurring payments need the Razorpay customer id".into()))?;
        let customer = self.get(&format!("/v1/customers/{}", path_segment(customer_id)?)).await?;
        let email = req.customer.email.clone().or_else(|| customer["email"].as_str().map(str::to_owned));
        let contact = customer["contact"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .or_else(|| req.customer.phone.as_deref().and_then(contact_of));
        let (Some(email), Some(contact)) = (email, contact) else {
            return Err(invalid(format!(
                "recurring payments need the customer's email and contact; {customer_id} lacks one and no phone \
                 number was given"
            )));
        };
        let our_notes =
            notes(&[("payment_id", &req.payment_id), ("customer_id", &req.customer.customer_id)], &req.metadata);
        let body = json!({
            "amount": amount,
            "currency": currency,
            "receipt": receipt,
            "payment_capture": true,
            "notes": our_notes,
        });
        let order = self.order_for(receipt, amount, currency, body).await?;
        let order_id = order["id"].as_str().ok_or_else(|| protocol("order without id"))?.to_owned();
        // An attempt made before (a retry after a timeout or a crash) is
        // reported instead of charging again.
        let payments = self.payments_of_order(&order_id).await?;
        if let Some(payment) = best_payment(&payments) {
            return outcome_of(&self.capture(payment.clone()).await?);
        }
        let body = json!({
            "email": email,
            "contact": contact,
            "amount": amount,
            "currency": currency,
            "order_id": order_id,
            "customer_id": customer_id,
            "token": req.method_token,
            "recurring": "1",
            "description": req.description.chars().take(255).collect::<String>(),
            "notes": our_notes,
        });
        let created =
            match self.call(Method::POST, "/v1/payments/create/recurring", Some(&body), None, Effect::Acts).await {
                Ok(created) => created,
                Err(f) => {
                    if let Some((payment, code, message)) = f.decline() {
                        return Ok(ChargeOutcome::Declined { provider_payment_id: Some(payment), code, message });
                    }
                    return Err(f.into_error());
                }
            };
        let payment_id =
            created["razorpay_payment_id"].as_str().ok_or_else(|| protocol("recurring answer without payment id"))?;
        let payment = self.fetch_payment(payment_id).await?;
        outcome_of(&self.capture(payment).await?)
    }

    /// By payment (`pay_…`) or order (`order_…`) id when known; otherwise
    /// the orders whose receipt is Bursar's payment id, and their payments.
    async fn retrieve(
        &self,
        payment_id: &str,
        provider_payment_id: Option<&str>,
    ) -> Result<PaymentStatus, ProviderError> {
        if let Some(id) = provider_payment_id {
            return match self.resolve_payment(id).await? {
                Some(payment) => status_of(&payment),
                None if id.starts_with("order_") => Ok(PaymentStatus::Pending { provider_payment_id: id.to_owned() }),
                None => Ok(PaymentStatus::NotFound),
            };
        }
        let Ok(receipt) = receipt_for(payment_id) else { return Ok(PaymentStatus::NotFound) };
        let orders = self.orders_by_receipt(receipt).await?;
        let mut payments = Vec::new();
        for order in &orders {
            let id = order["id"].as_str().ok_or_else(|| protocol("order without id"))?;
            payments.extend(self.payments_of_order(id).await?);
        }
        match (best_payment(&payments), orders.first()) {
            (Some(payment), _) => status_of(payment),
            (None, Some(order)) => {
                Ok(PaymentStatus::Pending { provider_payment_id: order["id"].as_str().unwrap_or_default().to_owned() })
            }
            (None, None) => Ok(PaymentStatus::NotFound),
        }
    }

    /// `POST /v1/payments/{id}/refund` under `X-Refund-Idempotency`. A
    /// `400` (more than the captured amount left, a payment not captured …)
    /// is a failed refund, not a bug.
    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let amount = razorpay_amount(req.amount)?;
        let payment_id = if req.provider_payment_id.starts_with("order_") {
            let payment = self
                .resolve_payment(&req.provider_payment_id)
                .await?
                .ok_or_else(|| invalid(format!("order {} has no payment", req.provider_payment_id)))?;
            payment["id"].as_str().ok_or_else(|| protocol("payment without id"))?.to_owned()
        } else {
            req.provider_payment_id.clone()
        };
        let mut note_pairs = vec![("refund_id", req.refund_id.as_str())];
        if let Some(reason) = &req.reason {
            note_pairs.push(("reason", reason));
        }
        let mut body = json!({
            "amount": amount,
            "speed": "normal",
            "notes": notes(&note_pairs, &BTreeMap::new()),
        });
        if req.refund_id.len() <= MAX_RECEIPT_LEN {
            body["receipt"] = Value::String(req.refund_id.clone());
        }
        let key = refund_idempotency_key(&req.refund_id);
        let path = format!("/v1/payments/{}/refund", path_segment(&payment_id)?);
        match self.call(Method::POST, &path, Some(&body), Some(("X-Refund-Idempotency", &key)), Effect::Acts).await {
            Ok(refund) => {
                let id = refund["id"].as_str().ok_or_else(|| protocol("refund without id"))?.to_owned();
                Ok(match refund["status"].as_str().unwrap_or("") {
                    "processed" => RefundOutcome::Succeeded { provider_refund_id: id },
                    "pending" | "created" => RefundOutcome::Pending { provider_refund_id: id },
                    other => RefundOutcome::Failed { provider_refund_id: Some(id), message: format!("refund {other}") },
                })
            }
            // The first request under this key may still succeed.
            Err(Failure::Api { status: 409, .. }) => Err(ProviderError::Indeterminate {
                provider: PROVIDER,
                detail: "a refund with this idempotency key is still being processed".into(),
            }),
            Err(f @ Failure::Api { status: 400, .. }) => {
                Ok(RefundOutcome::Failed { provider_refund_id: None, message: f.into_error().to_string() })
            }
            Err(f) => Err(f.into_error()),
        }
    }

    async fn verify_webhook(
        &self,
        headers: &Headers,
        body: &[u8],
        _now: jiff::Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        let signature = header(headers, "x-razorpay-signature").ok_or(WebhookError::MissingSignature)?;
        if signature.len() != 64 {
            return Err(WebhookError::MalformedSignature);
        }
        let given = hex::decode(signature).map_err(|_| WebhookError::MalformedSignature)?;
        let mut mac = HmacSha256::new_from_slice(self.config.webhook_secret.as_bytes()).expect("HMAC takes any key");
        mac.update(body);
        mac.verify_slice(&given).map_err(|_| WebhookError::BadSignature)?;
        // Razorpay's signature covers the body only, and Razorpay redelivers
        // a failed event with its original body for up to 24 hours: an
        // authentic event is accepted whatever its age. Replays are caught
        // by the event id, which is stored unique on receipt.
        let (event, created_at) = read_event(body)?;
        let event_id = header(headers, "x-razorpay-event-id")
            .ok_or_else(|| WebhookError::BadPayload("the x-razorpay-event-id header is missing".into()))?;
        self.event_of(&event, created_at, event_id.to_owned())
    }

    /// The same mapping as [`Connector::verify_webhook`] once the signature
    /// is checked, with one difference: the
    /// event id. Razorpay sends it in the `x-razorpay-event-id` header only;
    /// the body (`entity`, `account_id`, `event`, `contains`, `payload`,
    /// `created_at`) carries none. The event id here is therefore
    /// `sha256:` followed by the lower-case hex SHA-256 of the body as given:
    /// the same body always yields the same id, but it is not the id the
    /// delivery carried. Replays keyed on the original id must keep the id
    /// stored on receipt.
    async fn parse_webhook(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        let (event, created_at) = read_event(body)?;
        self.event_of(&event, created_at, body_event_id(body))
    }
}
