//! The [`Connector`] implementation: checkout, retrieval, refunds and
//! notifications against Antom's API.

use super::*;

#[async_trait]
impl Connector for AlipayConnector {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Alipay
    }

    fn off_session_charges(&self) -> bool {
        false
    }

    fn webhook_ack(&self) -> Option<WebhookAck> {
        Some(WebhookAck { content_type: "application/json", body: NOTIFICATION_ACK.to_owned() })
    }

    /// Antom keeps no customer objects for cashier payments.
    async fn ensure_customer(&self, _customer: &CustomerInfo) -> Result<String, ProviderError> {
        Err(ProviderError::Unsupported { provider: PROVIDER, operation: "ensure_customer" })
    }

    /// `pay` with `CASHIER_PAYMENT`. `save_method` is ignored: see the
    /// module documentation on renewals.
    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let amount = alipay_amount(req.amount)?;
        request_id(&req.payment_id, "payment id")?;
        let description: String = req.description.trim().chars().take(256).collect();
        let mut buyer = json!({ "referenceBuyerId": req.customer.customer_id.chars().take(64).collect::<String>() });
        if let Some(email) = &req.customer.email {
            buyer["buyerEmail"] = json!(email);
        }
        let mut body = json!({
            "productCode": "CASHIER_PAYMENT",
            "paymentRequestId": req.payment_id,
            "order": {
                "referenceOrderId": req.payment_id,
                "orderDescription": if description.is_empty() { req.payment_id.clone() } else { description },
                "orderAmount": amount,
                "buyer": buyer,
            },
            "paymentAmount": amount,
            "paymentMethod": { "paymentMethodType": self.config.payment_method_type },
            "paymentRedirectUrl": req.success_url,
            "paymentNotifyUrl": self.config.notify_url,
            "env": { "terminalType": self.config.terminal_type },
        });
        if let Some(currency) = &self.config.settlement_currency {
            body["settlementStrategy"] = json!({ "settlementCurrency": currency });
        }
        let answer = self.call("/v1/payments/pay", &body, Effect::Inert).await?;
        let (status, code, message) = result_of(&answer)?;
        let in_process = (status == "U" && code == "PAYMENT_IN_PROCESS") || status == "S";
        if !in_process {
            return Err(failure(&status, &code, &message, Effect::Inert));
        }
        let payment_id = answer["paymentId"].as_str().ok_or_else(|| protocol("pay answer without paymentId"))?;
        let mut params = BTreeMap::from([("payment_request_id".to_owned(), req.payment_id.clone())]);
        for (key, field) in [("normal_url", "normalUrl"), ("scheme_url", "schemeUrl"), ("applink_url", "applinkUrl")] {
            if let Some(v) = answer[field].as_str().filter(|v| !v.is_empty()) {
                params.insert(key.to_owned(), v.to_owned());
            }
        }
        let form = &answer["orderCodeForm"];
        let code_value = form["codeDetails"].as_array().and_then(|details| {
            details
                .iter()
                .find(|d| d["displayType"] == "TEXT")
                .or_else(|| details.first())
                .and_then(|d| d["codeValue"].as_str())
        });
        if let Some(code_value) = code_value {
            params.insert("qr_code".to_owned(), code_value.to_owned());
            if let Some(expires) = form["expireTime"].as_str() {
                params.insert("qr_expires_at".to_owned(), expires.to_owned());
            }
        }
        let redirect_url = ["normal_url", "applink_url", "scheme_url"]
            .iter()
            .find_map(|k| params.get(*k).cloned())
            .unwrap_or_default();
        if redirect_url.is_empty() && !params.contains_key("qr_code") {
            return Err(protocol("pay answer with neither a URL nor an order code"));
        }
        Ok(CheckoutSession { provider_ref: payment_id.to_owned(), redirect_url, client_params: params })
    }

    /// Inquires the payment after the buyer's return (the return itself
    /// proves nothing). Waiting for the buyer is
    /// [`ChargeOutcome::RequiresAction`]; paid with the final result to come
    /// is [`ChargeOutcome::Processing`].
    async fn complete_checkout(
        &self,
        session: &CheckoutSession,
        _params: &BTreeMap<String, String>,
    ) -> Result<(ChargeOutcome, Option<MethodDetails>), ProviderError> {
        if session.provider_ref.is_empty() {
            return Err(invalid("the checkout has no Antom paymentId".into()));
        }
        let inquiry = self
            .inquire("", Some(&session.provider_ref))
            .await?
            .ok_or_else(|| invalid(format!("Antom knows no payment {}", session.provider_ref)))?;
        let id = session.provider_ref.clone();
        let result_code = inquiry["paymentResultCode"].as_str().unwrap_or("").to_owned();
        let message = inquiry["paymentResultMessage"].as_str().unwrap_or("").to_owned();
        let outcome = match inquiry["paymentStatus"].as_str().unwrap_or("") {
            "SUCCESS" => ChargeOutcome::Succeeded { provider_payment_id: id, fee_minor: None },
            "PENDING" => ChargeOutcome::Processing { provider_payment_id: id },
            "PROCESSING" => ChargeOutcome::RequiresAction { provider_payment_id: id, redirect_url: None },
            "FAIL" | "CANCELLED" => ChargeOutcome::Declined {
                provider_payment_id: Some(id),
                code: if inquiry["paymentStatus"] == "CANCELLED" {
                    "canceled".into()
                } else {
                    decline_code(&result_code)
                },
                message: format!("{result_code}: {message}"),
            },
            other => return Err(protocol(format!("unknown payment status {other:?}"))),
        };
        Ok((outcome, None))
    }

    /// Off-session charges are not offered: nothing is sent.
    async fn charge(&self, _req: &ChargeRequest) -> Result<ChargeOutcome, ProviderError> {
        Err(ProviderError::Unsupported { provider: PROVIDER, operation: "off-session charge" })
    }

    async fn retrieve(
        &self,
        payment_id: &str,
        provider_payment_id: Option<&str>,
    ) -> Result<PaymentStatus, ProviderError> {
        if provider_payment_id.is_none() && request_id(payment_id, "payment id").is_err() {
            return Ok(PaymentStatus::NotFound);
        }
        match self.inquire(payment_id, provider_payment_id).await? {
            Some(inquiry) => status_of(&inquiry),
            None => Ok(PaymentStatus::NotFound),
        }
    }

    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let amount = alipay_amount(req.amount)?;
        request_id(&req.refund_id, "refund id")?;
        if req.provider_payment_id.is_empty() {
            return Err(invalid("a refund needs Antom's paymentId".into()));
        }
        let mut body = json!({
            "refundRequestId": req.refund_id,
            "paymentId": req.provider_payment_id,
            "refundAmount": amount,
            "refundNotifyUrl": self.config.notify_url,
        });
        if let Some(reason) = &req.reason {
            body["refundReason"] = json!(reason.chars().take(256).collect::<String>());
        }
        let answer = self.call("/v1/payments/refund", &body, Effect::Acts).await?;
        let (status, code, message) = result_of(&answer)?;
        let refund_id = answer["refundId"].as_str().map(str::to_owned);
        match (status.as_str(), code.as_str()) {
            ("S", _) => Ok(RefundOutcome::Succeeded {
                provider_refund_id: refund_id.ok_or_else(|| protocol("refund answer without refundId"))?,
            }),
            ("U", "REFUND_IN_PROCESS") => {
                Ok(RefundOutcome::Pending { provider_refund_id: refund_id.unwrap_or_else(|| req.refund_id.clone()) })
            }
            ("F", _)
                if !matches!(
                    code.as_str(),
                    "INVALID_SIGNATURE" | "KEY_NOT_FOUND" | "INVALID_CLIENT" | "ACCESS_DENIED" | "PARAM_ILLEGAL"
                ) =>
            {
                Ok(RefundOutcome::Failed { provider_refund_id: refund_id, message: format!("{code}: {message}") })
            }
            _ => Err(failure(&status, &code, &message, Effect::Acts)),
        }
    }

    async fn verify_webhook(
        &self,
        headers: &Headers,
        body: &[u8],
        now: jiff::Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        let signature = header(headers, "signature").ok_or(WebhookError::MissingSignature)?;
        let client_id = header(headers, "client-id").ok_or(WebhookError::MissingSignature)?;
        let time = header(headers, "request-time").ok_or(WebhookError::MissingSignature)?;
        let signature = parse_signature_header(signature)?;
        if client_id != self.config.client_id {
            return Err(WebhookError::BadSignature);
        }
        let content = content_to_sign("POST", &self.notify_path, client_id, time, body);
        if !verify(&self.alipay_key, &content, &signature) {
            return Err(WebhookError::BadSignature);
        }
        let sent = parse_time(time).ok_or(WebhookError::MalformedSignature)?;
        if now.as_second().abs_diff(sent.as_second()) > self.config.webhook_tolerance.as_secs() {
            return Err(WebhookError::Stale);
        }
        Self::event_of(body, Some(sent))
    }

    /// The same mapping as [`Connector::verify_webhook`], with one
    /// difference: a notification without payment or refund time is dated
    /// by its `request-time` header on receipt, and by the epoch here.
    async fn parse_webhook(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        Self::event_of(body, None)
    }
}
