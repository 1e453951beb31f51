//! The [`Connector`] implementation: orders, captures, refunds and webhooks
//! against PayPal's REST API.

use super::*;

#[async_trait]
impl Connector for PaypalConnector {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Paypal
    }

    fn payouts(&self) -> Option<&dyn crate::payouts::PayoutConnector> {
        Some(self)
    }

    /// PayPal has no customer object outside its vault: the vault creates
    /// the PayPal customer when a wallet is saved.
    async fn ensure_customer(&self, _customer: &CustomerInfo) -> Result<String, ProviderError> {
        Err(ProviderError::Unsupported { provider: PROVIDER, operation: "ensure_customer" })
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let unit = self.purchase_unit(&req.payment_id, &req.description, req.amount)?;
        let mut paypal = json!({
            "experience_context": {
                "return_url": req.success_url,
                "cancel_url": req.cancel_url,
                "user_action": "PAY_NOW",
                "shipping_preference": "NO_SHIPPING",
            }
        });
        if let Some(email) = &req.customer.email {
            paypal["email_address"] = Value::String(email.clone());
        }
        if req.save_method {
            let mut attributes = json!({
                "vault": { "store_in_vault": "ON_SUCCESS", "usage_type": "MERCHANT", "customer_type": "CONSUMER" }
            });
            if let Some(customer) = &req.provider_customer {
                attributes["customer"] = json!({ "id": customer });
            }
            paypal["attributes"] = attributes;
        }
        let body = json!({
            "intent": "CAPTURE",
            "purchase_units": [unit],
            "payment_source": { "paypal": paypal },
        });
        let request_id = idempotency_key(&req.payment_id, "checkout");
        let order =
            self.create_order(&req.payment_id, &request_id, &body, Effect::Inert).await.map_err(Failure::into_error)?;
        let id = order["id"].as_str().ok_or_else(|| protocol("order without id"))?.to_owned();
        let redirect_url = buyer_link(&order).ok_or_else(|| protocol("order without payer-action or approve link"))?;
        Ok(CheckoutSession {
            provider_ref: id.clone(),
            redirect_url,
            client_params: BTreeMap::from([("order_id".to_owned(), id)]),
        })
    }

    /// Captures the approved order. PayPal appends `token` (the order id) to
    /// the return URL; a different one is refused. An order captured before
    /// (a repeated return) is read back instead of failing.
    async fn complete_checkout(
        &self,
        session: &CheckoutSession,
        params: &BTreeMap<String, String>,
    ) -> Result<(ChargeOutcome, Option<MethodDetails>), ProviderError> {
        let order_id = session.provider_ref.as_str();
        if let Some(token) = params.get("token") {
            if token != order_id {
                return Err(invalid(format!("return token {token} is not order {order_id}")));
            }
        }
        let request_id = idempotency_key(order_id, "capture");
        let order = match self.capture_order(order_id, &request_id).await {
            Ok(order) => order,
            Err(f) if f.has_issue("ORDER_ALREADY_CAPTURED") => {
                self.get_order(order_id).await.map_err(Failure::into_error)?
            }
            Err(f) if f.has_issue("ORDER_NOT_APPROVED") => {
                let order = self.get_order(order_id).await.map_err(Failure::into_error)?;
                let outcome = ChargeOutcome::RequiresAction {
                    provider_payment_id: order_id.to_owned(),
                    redirect_url: buyer_link(&order),
                };
                return Ok((outcome, None));
            }
            Err(f) => {
                if let Some((code, message)) = f.decline() {
                    let outcome =
                        ChargeOutcome::Declined { provider_payment_id: Some(order_id.to_owned()), code, message };
                    return Ok((outcome, None));
                }
                return Err(f.into_error());
            }
        };
        let outcome = self.outcome(&order)?;
        let method = match outcome {
            ChargeOutcome::Succeeded { .. } | ChargeOutcome::Processing { .. } => vaulted_method(&order),
            _ => None,
        };
        Ok((outcome, method))
    }

    /// Charges a vaulted wallet: an order with `payment_source.paypal.
    /// vault_id`, which PayPal captures in the same call.
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, ProviderError> {
        if req.method_token.is_empty() {
            return Err(invalid("empty vault id".into()));
        }
        let unit = self.purchase_unit(&req.payment_id, &req.description, req.amount)?;
        let body = json!({
            "intent": "CAPTURE",
            "purchase_units": [unit],
            "payment_source": { "paypal": { "vault_id": req.method_token } },
        });
        let request_id = idempotency_key(&req.payment_id, "charge");
        let order = match self.create_order(&req.payment_id, &request_id, &body, Effect::Acts).await {
            Ok(order) => order,
            Err(f) => {
                if let Some((code, message)) = f.decline() {
                    return Ok(ChargeOutcome::Declined { provider_payment_id: None, code, message });
                }
                return Err(f.into_error());
            }
        };
        if order["status"] != "APPROVED" {
            return self.outcome(&order);
        }
        let id = order["id"].as_str().ok_or_else(|| protocol("order without id"))?.to_owned();
        match self.capture_order(&id, &idempotency_key(&req.payment_id, "charge-capture")).await {
            Ok(captured) => self.outcome(&captured),
            Err(f) if f.has_issue("ORDER_ALREADY_CAPTURED") => {
                self.outcome(&self.get_order(&id).await.map_err(Failure::into_error)?)
            }
            Err(f) => match f.decline() {
                Some((code, message)) => Ok(ChargeOutcome::Declined { provider_payment_id: Some(id), code, message }),
                None => Err(f.into_error()),
            },
        }
    }

    /// Reads the order (or capture) when its id is known. Without it, PayPal
    /// offers no lookup by Bursar's id: an order this connector created is
    /// read by the id it remembers, and a create request whose answer never
    /// arrived is repeated under the same `PayPal-Request-Id`, which PayPal
    /// answers with the stored result when the first one was processed (and
    /// processes now when it never arrived, exactly as a retry would). Any
    /// other payment id is [`ProviderError::Unsupported`].
    async fn retrieve(
        &self,
        payment_id: &str,
        provider_payment_id: Option<&str>,
    ) -> Result<PaymentStatus, ProviderError> {
        let remembered = self.recall(payment_id);
        let known = match (provider_payment_id, &remembered) {
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(Sent::Order(id))) => Some(id.clone()),
            _ => None,
        };
        let order = match (known, remembered) {
            (Some(id), _) => match self.order_or_capture(&id).await? {
                Some(order) => order,
                None => return Ok(PaymentStatus::NotFound),
            },
            (None, Some(Sent::Unanswered { request_id, body, effect })) => {
                let order = self
                    .call(Method::POST, "/v2/checkout/orders", Some(&body), Some(&request_id), effect)
                    .await
                    .map_err(Failure::into_error)?;
                if let Some(id) = order["id"].as_str() {
                    self.remember(payment_id, Sent::Order(id.to_owned()));
                }
                order
            }
            _ => {
                return Err(ProviderError::Unsupported {
                    provider: PROVIDER,
                    operation: "retrieve without the order id",
                })
            }
        };
        self.status_of(&order)
    }

    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let value = paypal_amount(req.amount)?;
        let order = self
            .order_or_capture(&req.provider_payment_id)
            .await?
            .ok_or_else(|| invalid(format!("PayPal knows no order {}", req.provider_payment_id)))?;
        let capture = first_capture(&order).ok_or_else(|| invalid("the order has no capture to refund".into()))?;
        let capture_id = capture["id"].as_str().ok_or_else(|| protocol("capture without id"))?;
        let mut body = json!({
            "amount": { "currency_code": req.amount.currency(), "value": value },
            "custom_id": req.refund_id,
        });
        if let Some(reason) = &req.reason {
            body["note_to_payer"] = Value::String(reason.chars().take(255).collect());
        }
        let path = format!("/v2/payments/captures/{}/refund", path_segment(capture_id)?);
        let request_id = idempotency_key(&req.refund_id, "refund");
        match self.call(Method::POST, &path, Some(&body.to_string()), Some(&request_id), Effect::Acts).await {
            Ok(refund) => {
                let id = refund["id"].as_str().ok_or_else(|| protocol("refund without id"))?.to_owned();
                Ok(match refund["status"].as_str().unwrap_or("") {
                    "COMPLETED" => RefundOutcome::Succeeded { provider_refund_id: id },
                    "PENDING" => RefundOutcome::Pending { provider_refund_id: id },
                    other => RefundOutcome::Failed {
                        message: refund["status_details"]["reason"].as_str().unwrap_or(other).to_owned(),
                        provider_refund_id: Some(id),
                    },
                })
            }
            // The capture cannot be refunded this way (amount exceeded,
            // fully refunded, too old …): a negative answer, not a bug.
            Err(f) if f.status() == Some(422) => {
                Ok(RefundOutcome::Failed { provider_refund_id: None, message: f.into_error().to_string() })
            }
            Err(f) => Err(f.into_error()),
        }
    }

    async fn verify_webhook(
        &self,
        headers: &Headers,
        body: &[u8],
        now: jiff::Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        let names = [
            "paypal-auth-algo",
            "paypal-cert-url",
            "paypal-transmission-id",
            "paypal-transmission-sig",
            "paypal-transmission-time",
        ];
        let mut values = Vec::with_capacity(names.len());
        for name in names {
            values.push(header(headers, name).ok_or(WebhookError::MissingSignature)?);
        }
        let [auth_algo, cert_url, transmission_id, transmission_sig, transmission_time] = values[..] else {
            return Err(WebhookError::MissingSignature);
        };
        let sent: jiff::Timestamp = transmission_time.parse().map_err(|_| WebhookError::MalformedSignature)?;
        let skew = now.as_second().abs_diff(sent.as_second());
        if skew > self.config.webhook_tolerance.as_secs() {
            return Err(WebhookError::Stale);
        }
        // A body that is no event is refused before PayPal is asked.
        let (raw, event) = read_event(body)?;
        // The event goes to PayPal exactly as received: re-serializing it
        // could change what PayPal checks the signature against.
        let head = json!({
            "auth_algo": auth_algo,
            "cert_url": cert_url,
            "transmission_id": transmission_id,
            "transmission_sig": transmission_sig,
            "transmission_time": transmission_time,
            "webhook_id": self.config.webhook_id,
        })
        .to_string();
        let request = format!("{},\"webhook_event\":{raw}}}", &head[..head.len() - 1]);
        let answer = self
            .call(Method::POST, "/v1/notifications/verify-webhook-signature", Some(&request), None, Effect::Inert)
            .await
            .map_err(|f| WebhookError::Verification(f.into_error().to_string()))?;
        match answer["verification_status"].as_str() {
            Some("SUCCESS") => {}
            Some(_) => return Err(WebhookError::BadSignature),
            None => return Err(WebhookError::Verification("answer without verification_status".into())),
        }
        self.event_of(&event).await
    }

    /// The same mapping as [`Connector::verify_webhook`] once PayPal has
    /// confirmed the signature, so a stored body maps to the event it mapped
    /// to on receipt, whatever its age. Refund and dispute events still look
    /// the order of their capture up at PayPal
    /// (`GET /v2/payments/captures/{id}`); a failed lookup is
    /// [`WebhookError::Verification`].
    async fn parse_webhook(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        let (_, event) = read_event(body)?;
        self.event_of(&event).await
    }
}
