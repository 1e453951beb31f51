//! The [`Connector`] implementation: Checkout Pro preferences, payments,
//! refunds and webhook notifications against Mercado Pago's API.

use super::*;

#[async_trait]
impl Connector for MercadoPagoConnector {
    fn kind(&self) -> ProviderKind {
        ProviderKind::MercadoPago
    }

    fn off_session_charges(&self) -> bool {
        false
    }

    /// The Mercado Pago customer with our customer's email
    /// (`GET /v1/customers/search?email=…`), created when there is none
    /// (`POST /v1/customers`). Customers only serve cards saved for
    /// payments the buyer confirms with the security code.
    async fn ensure_customer(&self, customer: &CustomerInfo) -> Result<String, ProviderError> {
        let email = customer
            .email
            .as_deref()
            .filter(|e| e.contains('@'))
            .ok_or_else(|| invalid("Mercado Pago customers need an email address".into()))?;
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("email", email).finish();
        let found = self.get(&format!("/v1/customers/search?{query}")).await?;
        if let Some(id) = found["results"]
            .as_array()
            .and_then(|r| r.iter().find(|c| c["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(email))))
            .and_then(|c| id_text(&c["id"]))
        {
            return Ok(id);
        }
        let mut body = json!({ "email": email, "description": customer.customer_id });
        if let Some(name) = &customer.name {
            let (first, last) = name.trim().split_once(' ').unwrap_or((name.trim(), ""));
            body["first_name"] = json!(first);
            if !last.is_empty() {
                body["last_name"] = json!(last.trim());
            }
        }
        let key = idempotency_key(&customer.customer_id, "customer");
        let created = self
            .call(Method::POST, "/v1/customers", Some(body.to_string()), Some(&key), Effect::Inert)
            .await
            .map_err(Failure::into_error)?;
        id_text(&created["id"]).ok_or_else(|| protocol("customer without id"))
    }

    /// A Checkout Pro preference for the whole amount. `save_method` is
    /// ignored: see the module documentation on renewals.
    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let unit_price = mercadopago_amount(req.amount)?;
        if req.payment_id.is_empty() || req.payment_id.len() > MAX_EXTERNAL_REFERENCE_LEN {
            return Err(invalid(format!(
                "payment id {:?} does not fit Mercado Pago's 256-character external_reference",
                req.payment_id
            )));
        }
        let title: String = req.description.trim().chars().take(256).collect();
        let mut payer = Map::new();
        if let Some(email) = &req.customer.email {
            payer.insert("email".into(), json!(email));
        }
        if let Some(name) = &req.customer.name {
            payer.insert("name".into(), json!(name.chars().take(256).collect::<String>()));
        }
        let mut metadata = Map::new();
        for (k, v) in &req.metadata {
            metadata.insert(k.clone(), json!(v));
        }
        metadata.insert("payment_id".into(), json!(req.payment_id));
        metadata.insert("customer_id".into(), json!(req.customer.customer_id));
        let body = PreferenceBody {
            items: vec![PreferenceItem {
                id: &req.payment_id,
                title: if title.is_empty() { req.payment_id.clone() } else { title },
                quantity: 1,
                currency_id: req.amount.currency(),
                unit_price: number(unit_price)?,
            }],
            payer,
            back_urls: BackUrls { success: &req.success_url, pending: &req.success_url, failure: &req.cancel_url },
            auto_return: "approved",
            external_reference: &req.payment_id,
            metadata,
            notification_url: self.config.notification_url.as_deref(),
        };
        let body = serde_json::to_string(&body).map_err(|e| protocol(format!("preference as JSON: {e}")))?;
        let key = idempotency_key(&req.payment_id, "checkout");
        let preference = self
            .call(Method::POST, "/checkout/preferences", Some(body), Some(&key), Effect::Inert)
            .await
            .map_err(Failure::into_error)?;
        let id = preference["id"].as_str().ok_or_else(|| protocol("preference without id"))?.to_owned();
        let redirect_url = preference["init_point"]
            .as_str()
            .or_else(|| preference["sandbox_init_point"].as_str())
            .ok_or_else(|| protocol("preference without init_point"))?
            .to_owned();
        Ok(CheckoutSession {
            provider_ref: id.clone(),
            redirect_url,
            client_params: BTreeMap::from([
                ("preference_id".to_owned(), id),
                ("external_reference".to_owned(), req.payment_id.clone()),
            ]),
        })
    }

    /// Reads the payment of the preference after the buyer's return. A
    /// return that names a payment of another reference is refused; a
    /// preference nobody paid yet is [`ChargeOutcome::RequiresAction`] with
    /// its `init_point`. `provider_ref` may also be a payment id (a return
    /// completed before).
    async fn complete_checkout(
        &self,
        session: &CheckoutSession,
        params: &BTreeMap<String, String>,
    ) -> Result<(ChargeOutcome, Option<MethodDetails>), ProviderError> {
        let reference_ok = |payment: &Value, reference: &str| payment["external_reference"] == reference;
        if is_payment_id(&session.provider_ref) {
            let payment = self
                .payment(&session.provider_ref)
                .await?
                .ok_or_else(|| invalid(format!("Mercado Pago knows no payment {}", session.provider_ref)))?;
            return Ok((outcome_of(&payment)?, None));
        }
        let preference = self.preference(&session.provider_ref).await?;
        let reference = preference["external_reference"]
            .as_str()
            .ok_or_else(|| protocol("preference without external_reference"))?
            .to_owned();
        if params.get("preference_id").is_some_and(|p| *p != session.provider_ref) {
            return Err(invalid(format!("the return names another preference than {}", session.provider_ref)));
        }
        let named = params
            .get("payment_id")
            .or_else(|| params.get("collection_id"))
            .filter(|id| !id.is_empty() && id.as_str() != "null");
        let payment = match named {
            Some(id) => {
                if !is_payment_id(id) {
                    return Err(invalid(format!("malformed payment id {id:?} in the return")));
                }
                let payment =
                    self.payment(id).await?.ok_or_else(|| invalid(format!("Mercado Pago knows no payment {id}")))?;
                if !reference_ok(&payment, &reference) {
                    return Err(invalid(format!(
                        "payment {id} does not belong to preference {}",
                        session.provider_ref
                    )));
                }
                // Another attempt of the same reference may have succeeded.
                let all = self.payments_of(&reference).await?;
                match best_payment(&all) {
                    Some(best) if rank(best) > rank(&payment) => best.clone(),
                    _ => payment,
                }
            }
            None => match best_payment(&self.payments_of(&reference).await?) {
                Some(p) => p.clone(),
                None => {
                    let outcome = ChargeOutcome::RequiresAction {
                        provider_payment_id: session.provider_ref.clone(),
                        redirect_url: preference["init_point"].as_str().map(str::to_owned),
                    };
                    return Ok((outcome, None));
                }
            },
        };
        Ok((outcome_of(&payment)?, None))
    }

    /// Off-session charges are not offered: nothing is sent.
    async fn charge(&self, _req: &ChargeRequest) -> Result<ChargeOutcome, ProviderError> {
        Err(ProviderError::Unsupported { provider: PROVIDER, operation: "off-session charge of a saved card" })
    }

    /// By payment id when known (a preference id is read through its
    /// reference); otherwise the payments whose `external_reference` is
    /// Bursar's payment id. A preference nobody paid is pending.
    async fn retrieve(
        &self,
        payment_id: &str,
        provider_payment_id: Option<&str>,
    ) -> Result<PaymentStatus, ProviderError> {
        if let Some(id) = provider_payment_id.filter(|id| is_payment_id(id)) {
            return match self.payment(id).await? {
                Some(p) => status_of(&p),
                None => Ok(PaymentStatus::NotFound),
            };
        }
        let payments = self.payments_of(payment_id).await?;
        match (best_payment(&payments), provider_payment_id) {
            (Some(p), _) => status_of(p),
            (None, Some(preference)) => match self.preference(preference).await {
                Ok(_) => Ok(PaymentStatus::Pending { provider_payment_id: preference.to_owned() }),
                Err(ProviderError::Rejected { status: 404, .. }) => Ok(PaymentStatus::NotFound),
                Err(e) => Err(e),
            },
            (None, None) => Ok(PaymentStatus::NotFound),
        }
    }

    /// `POST /v1/payments/{id}/refunds` with the amount, under
    /// `X-Idempotency-Key`.
    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let amount = mercadopago_amount(req.amount)?;
        let payment = self
            .resolve_payment(&req.provider_payment_id)
            .await?
            .ok_or_else(|| invalid(format!("Mercado Pago knows no payment {}", req.provider_payment_id)))?;
        let id = payment_id_of(&payment)?;
        if currency_of(&payment) != Some(req.amount.currency()) {
            return Err(invalid(format!("payment {id} is not in {}", req.amount.currency())));
        }
        let body = serde_json::to_string(&RefundBody { amount: number(amount)? })
            .map_err(|e| protocol(format!("refund as JSON: {e}")))?;
        let key = idempotency_key(&req.refund_id, "refund");
        match self.call(Method::POST, &format!("/v1/payments/{id}/refunds"), Some(body), Some(&key), Effect::Acts).await
        {
            Ok(refund) => {
                let refund_id = id_text(&refund["id"]).ok_or_else(|| protocol("refund without id"))?;
                Ok(match refund["status"].as_str().unwrap_or("") {
                    "approved" => RefundOutcome::Succeeded { provider_refund_id: refund_id },
                    "in_process" | "pending" | "authorized" => RefundOutcome::Pending { provider_refund_id: refund_id },
                    other => RefundOutcome::Failed {
                        provider_refund_id: Some(refund_id),
                        message: format!("refund {other}"),
                    },
                })
            }
            Err(f @ Failure::Api { status: 400, .. }) => {
                Ok(RefundOutcome::Failed { provider_refund_id: None, message: f.into_error().to_string() })
            }
            Err(f) => Err(f.into_error()),
        }
    }

    /// Checks `x-signature` over the documented manifest, then fetches the
    /// payment the notification names and maps it.
    async fn verify_webhook(
        &self,
        headers: &Headers,
        body: &[u8],
        now: jiff::Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        let signature = header(headers, "x-signature").ok_or(WebhookError::MissingSignature)?;
        let notification = read_notification(body)?;
        let ts = verify_signature(
            &self.config.webhook_secret,
            signature,
            notification.data_id.as_deref(),
            header(headers, "x-request-id"),
        )?;
        if let Some(tolerance) = self.config.webhook_tolerance {
            let sent = ts_seconds(&ts).ok_or(WebhookError::MalformedSignature)?;
            if now.as_second().abs_diff(sent) > tolerance.as_secs() {
                return Err(WebhookError::Stale);
            }
        }
        self.event_of(&notification).await
    }

    /// The same mapping as [`Connector::verify_webhook`] once the signature
    /// is checked. As notifications carry no state, the payment is fetched
    /// again: a stored notification maps to the payment as it is *now*
    /// (approved, refunded since, …), which applying handles as it handles
    /// any later event.
    async fn parse_webhook(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        self.event_of(&read_notification(body)?).await
    }
}
