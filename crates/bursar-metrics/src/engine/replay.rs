//! How a customer's history advances: one step per timestamp, each fact
//! applied to the subscription and customer state, months closed as time
//! passes.

use super::*;

fn unknown_sub(ts: i64, what: &str, id: &str) -> String {
    format!("{}: {what} for unknown subscription `{id}`", crate::time::format_ts(ts))
}

fn discount_applies(d: &Discount, period_start: i64) -> bool {
    match d.duration {
        DiscountDuration::Once => period_start == d.start,
        DiscountDuration::Repeating { months } => period_start >= d.start && period_start < add_months(d.start, months),
        DiscountDuration::Forever => period_start >= d.start,
    }
}

impl SubscriptionState {
    /// The discount on one period's gross amount.
    pub fn discount_amount(&self, gross: i64) -> Result<i64, MetricsError> {
        let Some(p) = self.period.map(|p| p.start) else { return Ok(0) };
        let Some(d) = self.discounts.iter().rev().find(|d| d.start <= p) else { return Ok(0) };
        if !discount_applies(d, p) {
            return Ok(0);
        }
        Ok(match &d.off {
            DiscountOff::Percent(pct) => pct.mul_div_round(gross, 100)?.min(gross),
            DiscountOff::Fixed(amounts) => amounts.get(&self.currency).map_or(0, |a| (*a).min(gross)),
        })
    }

    /// The MRR this subscription contributes now, in its own currency.
    pub fn compute_mrr_native(&self, catalog: &Catalog, filter: &Filter) -> Result<i64, MetricsError> {
        if !self.status.counts()
            || catalog.is_free_plan(&self.plan_id)
            || !filter.includes_sub(self.currency, &self.plan_id)
        {
            return Ok(0);
        }
        let gross = self.unit_amount_minor.checked_mul(self.quantity).ok_or(MetricsError::Overflow)?;
        let net = sub_i64(gross, self.discount_amount(gross)?)?;
        Ok(round_div(i128::from(net), i128::from(self.interval_months.max(1)), Rounding::HalfUp)?)
    }

    /// Whether `ts` is strictly inside the current period (whose end is
    /// known).
    fn strictly_inside_period(&self, ts: i64) -> bool {
        matches!(self.period, Some(Period { start, end: Some(end) }) if start < ts && ts < end)
    }

    fn live_for(&self, catalog: &Catalog, filter: &Filter) -> bool {
        self.status.live() && !catalog.is_free_plan(&self.plan_id) && filter.includes_sub(self.currency, &self.plan_id)
    }
}

impl CustomerHistory {
    /// An empty history (no facts yet).
    pub fn new(customer_id: String, filter: Filter) -> CustomerHistory {
        CustomerHistory {
            customer_id,
            filter,
            movements: Vec::new(),
            months: Vec::new(),
            timeline: Vec::new(),
            state: CustomerState::default(),
            warnings: Vec::new(),
        }
    }

    /// The customer's contribution to month aggregates, one row per month
    /// with a fact: the month's flows and the change of the customer's
    /// month-end levels since the previous row. A month total is the sum of
    /// the rows of that month over customers (flows) or of the rows up to
    /// and including it (levels), so a store can keep such rows in a table
    /// and replace one customer's rows when that customer is recomputed.
    pub fn month_contributions(&self) -> Result<Vec<MonthContribution>, MetricsError> {
        let empty = Levels::default();
        let mut prev = &empty;
        let mut out = Vec::with_capacity(self.months.len());
        for r in &self.months {
            let mut level_change = r.end.clone();
            level_change.add_signed(prev, -1)?;
            out.push(MonthContribution { month: r.month, flows: r.flows.clone(), level_change });
            prev = &r.end;
        }
        Ok(out)
    }

    /// The cohort: the month of the first new-business movement.
    pub fn cohort(&self) -> Option<Month> {
        self.state.cohort
    }

    /// The state at the end of `month`: that of the last record at or
    /// before it (zero before the first).
    pub fn levels_at_end(&self, month: Month) -> Option<&Levels> {
        let i = self.months.partition_point(|r| r.month <= month);
        (i > 0).then(|| &self.months[i - 1].end)
    }

    /// Continues the replay with later facts: every fact must be strictly
    /// after the last step already replayed (a fact at or before it changes
    /// history: replay the customer from the start instead). Facts are put
    /// in time order, keeping the given order within a timestamp. After an
    /// error the history is incomplete: discard it.
    pub fn extend(&mut self, catalog: &Catalog, facts: &[Fact]) -> Result<(), MetricsError> {
        self.extend_refs(catalog, facts.iter().collect())
    }

    pub(super) fn extend_refs(&mut self, catalog: &Catalog, mut order: Vec<&Fact>) -> Result<(), MetricsError> {
        order.retain(|f| !matches!(f.kind, FactKind::MarketingSpend { .. }));
        for f in &order {
            check_ts(f.ts)?;
            if f.customer_id.as_deref() != Some(self.customer_id.as_str()) {
                return Err(MetricsError::WrongCustomer {
                    expected: self.customer_id.clone(),
                    found: f.customer_id.clone().unwrap_or_default(),
                });
            }
            if self.state.last_ts.is_some_and(|last| f.ts <= last) {
                return Err(MetricsError::Invalid(format!(
                    "fact at {} is not after the last replayed step; replay the customer from the start",
                    crate::time::format_ts(f.ts)
                )));
            }
        }
        order.sort_by_key(|f| f.ts);
        let mut i = 0;
        while i < order.len() {
            let ts = order[i].ts;
            let mut j = i;
            while j < order.len() && order[j].ts == ts {
                j += 1;
            }
            self.step(catalog, ts, &order[i..j])?;
            i = j;
        }
        self.close_month(catalog)
    }

    /// The record of `month`, which is the last one or about to be (steps
    /// come in time order). Its `end` is brought up to date by
    /// [`CustomerHistory::close_month`].
    fn record(&mut self, month: Month) -> &mut MonthRecord {
        if self.months.last().is_none_or(|r| r.month != month) {
            self.months.push(MonthRecord { month, flows: Flows::default(), end: Levels::default() });
        }
        let last = self.months.len() - 1;
        &mut self.months[last]
    }

    /// Sets the last record's month-end state from the current state.
    fn close_month(&mut self, catalog: &Catalog) -> Result<(), MetricsError> {
        if !self.months.is_empty() {
            let end = self.levels(catalog)?;
            if let Some(r) = self.months.last_mut() {
                r.end = end;
            }
        }
        Ok(())
    }

    /// Applies the facts of one timestamp and classifies the net change.
    fn step(&mut self, catalog: &Catalog, ts: i64, facts: &[&Fact]) -> Result<(), MetricsError> {
        let month = Month::of(ts)?;
        if self.months.last().is_some_and(|r| r.month != month) {
            self.close_month(catalog)?;
        }
        self.record(month);
        let mrr_before = self.mrr()?;
        for f in facts {
            if let Some(name) = f.timeline_name() {
                self.timeline.push(TimelineEvent { ts, name });
            }
            self.apply(catalog, ts, month, f)?;
        }
        // Recompute every subscription; re-fix the rate only where the
        // native MRR changed over the whole step.
        let mut native = BTreeMap::new();
        let mut changed = Vec::new();
        for (id, sub) in self.state.subscriptions.iter_mut() {
            let now = sub.compute_mrr_native(catalog, &self.filter)?;
            if now != sub.mrr_native {
                let rate = catalog.rate_at(sub.currency, ts)?;
                let delta = sub_i64(now, sub.mrr_native)?;
                add_to(&mut native, sub.currency, delta)?;
                changed.push(id.clone());
                sub.mrr_base = rate.convert(now, sub.currency, catalog.base_currency)?;
                sub.mrr_native = now;
                sub.fx_rate = rate;
            }
        }
        let mrr_after = self.mrr()?;
        let live = self.state.subscriptions.values().any(|s| s.live_for(catalog, &self.filter));
        let delta = sub_i64(mrr_after, mrr_before)?;
        let st = &mut self.state;
        let kind = if delta > 0 {
            let k = if !st.had_mrr {
                MovementKind::New
            } else if !st.active {
                MovementKind::Reactivation
            } else {
                MovementKind::Expansion
            };
            st.active = true;
            st.had_mrr = true;
            Some(k)
        } else if delta < 0 {
            if live {
                Some(MovementKind::Contraction)
            } else {
                st.active = false;
                Some(MovementKind::Churn)
            }
        } else if st.active && !live {
            st.active = false;
            Some(MovementKind::Churn)
        } else {
            None
        };
        if let Some(kind) = kind {
            let amount = delta.checked_abs().ok_or(MetricsError::Overflow)?;
            if kind == MovementKind::New {
                st.first_paid_ts = Some(ts);
                st.cohort = Some(month);
                st.new_business_mrr = amount;
            }
            self.movements.push(Movement { ts, month, kind, amount, native, subscription_ids: changed });
            let rec = self.record(month);
            rec.flows.movement_amounts.get_mut(kind).add_signed(&amount, 1)?;
            rec.flows.movement_counts.get_mut(kind).add_signed(&1, 1)?;
        }
        self.state.last_ts = Some(ts);
        Ok(())
    }

    fn mrr(&self) -> Result<i64, MetricsError> {
        self.state.subscriptions.values().try_fold(0_i64, |acc, s| add_i64(acc, s.mrr_base))
    }

    fn levels(&self, catalog: &Catalog) -> Result<Levels, MetricsError> {
        let mut l = Levels { mrr: self.mrr()?, active: i64::from(self.state.active), ..Levels::default() };
        l.paying = i64::from(l.mrr > 0);
        for s in self.state.subscriptions.values() {
            if s.mrr_native != 0 {
                add_to(&mut l.mrr_by_currency_native, s.currency, s.mrr_native)?;
            }
            if s.mrr_base != 0 {
                add_to(&mut l.mrr_by_currency_base, s.currency, s.mrr_base)?;
            }
            if s.cancel_at_period_end && s.live_for(catalog, &self.filter) {
                l.scheduled_churn_mrr = add_i64(l.scheduled_churn_mrr, s.mrr_base)?;
                l.scheduled_churn_subscriptions += 1;
            }
        }
        Ok(l)
    }

    /// Finds the subscription a fact names; with no id, the customer's only
    /// subscription that has not ended.
    fn resolve(&mut self, ts: i64, what: &str, id: Option<&str>) -> Option<String> {
        match id {
            Some(id) if self.state.subscriptions.contains_key(id) => Some(id.to_string()),
            Some(id) => {
                self.warnings.push(unknown_sub(ts, what, id));
                None
            }
            None => {
                let mut live = self.state.subscriptions.iter().filter(|(_, s)| !s.status.ended());
                match (live.next(), live.next()) {
                    (Some((id, _)), None) => Some(id.clone()),
                    _ => {
                        self.warnings.push(format!(
                            "{}: {what} without subscription_id, and the customer has not exactly one live subscription",
                            crate::time::format_ts(ts)
                        ));
                        None
                    }
                }
            }
        }
    }

    fn country_key(&self) -> String {
        self.state.country.clone().unwrap_or_else(|| "unknown".to_string())
    }

    fn includes_invoice(&self, currency: Currency, subscription_id: Option<&str>) -> bool {
        if self.filter.currency.is_some_and(|c| c != currency) {
            return false;
        }
        match &self.filter.plan_id {
            None => true,
            Some(p) => subscription_id.and_then(|id| self.state.subscriptions.get(id)).is_some_and(|s| &s.plan_id == p),
        }
    }

    fn sub_included(&self, id: &str) -> bool {
        self.state.subscriptions.get(id).is_some_and(|s| self.filter.includes_sub(s.currency, &s.plan_id))
    }

    fn cancel(&mut self, month: Month, id: &str) -> Result<(), MetricsError> {
        let included = self.sub_included(id);
        let Some(sub) = self.state.subscriptions.get_mut(id) else { return Ok(()) };
        let was_trialing = sub.status == SubStatus::Trialing;
        sub.status = SubStatus::Canceled;
        sub.cancel_at_period_end = false;
        sub.deferred.clear();
        if was_trialing && included {
            let t = &mut self.record(month).flows.trials;
            t.ended += 1;
            t.canceled_during_trial += 1;
        }
        Ok(())
    }

    fn invoice(
        &mut self,
        catalog: &Catalog,
        ts: i64,
        month: Month,
        inv: &InvoiceFact,
        paid: bool,
    ) -> Result<(), MetricsError> {
        if !self.includes_invoice(inv.currency, inv.subscription_id.as_deref()) {
            return Ok(());
        }
        let country = self.country_key();
        let flows = &mut self.record(month).flows;
        if !paid {
            flows.cash.payment_failures += 1;
            return Ok(());
        }
        let excl = sub_i64(inv.total_minor, inv.tax_minor)?;
        let excl_base = catalog.to_base(excl, inv.currency, ts)?;
        let tax_base = catalog.to_base(inv.tax_minor, inv.currency, ts)?;
        flows.cash.invoices_paid += 1;
        flows.cash.collected_excl_tax = add_i64(flows.cash.collected_excl_tax, excl_base)?;
        flows.cash.tax_collected = add_i64(flows.cash.tax_collected, tax_base)?;
        add_to(&mut flows.revenue_by_country, country.clone(), excl_base)?;
        add_to(&mut flows.tax_by_country, country, tax_base)?;
        add_to(&mut flows.revenue_by_currency, inv.currency, excl)?;
        Ok(())
    }

    fn apply(&mut self, catalog: &Catalog, ts: i64, month: Month, fact: &Fact) -> Result<(), MetricsError> {
        let name = fact.event_name().unwrap_or("unknown event");
        match &fact.kind {
            FactKind::SignedUp { country, currency, .. } => {
                if self.state.country.is_none() {
                    self.state.country = country.clone();
                }
                if self.state.signup_ts.is_none() {
                    self.state.signup_ts = Some(ts);
                    self.state.signup_currency = *currency;
                    if self.filter.currency.is_none_or(|c| Some(c) == *currency) {
                        self.record(month).flows.signups += 1;
                    }
                }
            }
            FactKind::SubscriptionCreated(ns) => {
                if let Some(d) = &ns.discount {
                    check_ts(d.start)?;
                }
                if ns.quantity < 0 || ns.unit_amount_minor < 0 || ns.interval_months == 0 {
                    return Err(MetricsError::Invalid(format!(
                        "subscription `{}`: quantity and unit amount must not be negative, interval_months must be ≥ 1",
                        ns.subscription_id
                    )));
                }
                let status = match ns.status {
                    StartStatus::Trialing => SubStatus::Trialing,
                    StartStatus::Active => SubStatus::Active,
                    StartStatus::PastDue => SubStatus::PastDue,
                };
                let period = ns.period.or((status != SubStatus::Trialing).then_some(Period { start: ts, end: None }));
                // A re-created id keeps the MRR it had, so the step's change is
                // measured against it.
                let (mrr_native, fx_rate, mrr_base) = match self.state.subscriptions.get(&ns.subscription_id) {
                    Some(old) => {
                        self.warnings.push(format!(
                            "{}: subscription `{}` created again; the new one replaces it",
                            crate::time::format_ts(ts),
                            ns.subscription_id
                        ));
                        (old.mrr_native, old.fx_rate, old.mrr_base)
                    }
                    None => (0, Decimal::ONE, 0),
                };
                let sub = SubscriptionState {
                    plan_id: ns.plan_id.clone(),
                    currency: ns.currency,
                    quantity: ns.quantity,
                    unit_amount_minor: ns.unit_amount_minor,
                    interval_months: ns.interval_months,
                    status,
                    period,
                    discounts: ns.discount.iter().cloned().collect(),
                    cancel_at_period_end: false,
                    deferred: Vec::new(),
                    mrr_native,
                    fx_rate,
                    mrr_base,
                };
                let included = self.filter.includes_sub(sub.currency, &sub.plan_id);
                self.state.subscriptions.insert(ns.subscription_id.clone(), sub);
                if status == SubStatus::Trialing && included {
                    self.record(month).flows.trials.started += 1;
                }
            }
            FactKind::TrialEnded { subscription_id, outcome, period } => {
                let Some(id) = self.resolve(ts, name, Some(subscription_id)) else { return Ok(()) };
                let included = self.sub_included(&id);
                if let Some(sub) = self.state.subscriptions.get_mut(&id) {
                    sub.status = match outcome {
                        TrialOutcome::Converted => SubStatus::Active,
                        TrialOutcome::PastDue => SubStatus::PastDue,
                        TrialOutcome::Expired => SubStatus::Expired,
                    };
                    if *outcome != TrialOutcome::Expired {
                        sub.period = Some(period.unwrap_or(Period { start: ts, end: None }));
                    }
                }
                if included {
                    let t = &mut self.record(month).flows.trials;
                    t.ended += 1;
                    match outcome {
                        TrialOutcome::Converted => t.converted_paid += 1,
                        TrialOutcome::PastDue => t.converted_past_due += 1,
                        TrialOutcome::Expired => t.expired += 1,
                    }
                }
            }
            FactKind::Renewed { subscription_id, period } => {
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    let deferred = match self.state.subscriptions.get_mut(&id) {
                        Some(s) => {
                            s.period = Some(*period);
                            std::mem::take(&mut s.deferred)
                        }
                        None => Vec::new(),
                    };
                    for kind in deferred {
                        self.apply(catalog, ts, month, &Fact { ts, customer_id: fact.customer_id.clone(), kind })?;
                    }
                }
            }
            FactKind::PlanChanged {
                subscription_id,
                plan_id,
                unit_amount_minor,
                interval_months,
                quantity,
                clear_discount,
                period,
                at_period_end,
            } => {
                let Some(id) = self.resolve(ts, name, Some(subscription_id)) else { return Ok(()) };
                let Some(s) = self.state.subscriptions.get_mut(&id) else { return Ok(()) };
                if *at_period_end && period.is_none() && s.strictly_inside_period(ts) {
                    let mut now = fact.kind.clone();
                    if let FactKind::PlanChanged { at_period_end, .. } = &mut now {
                        *at_period_end = false;
                    }
                    s.deferred.push(now);
                    return Ok(());
                }
                let unit = unit_amount_minor.or_else(|| catalog.plans.get(plan_id)?.prices.get(&s.currency).copied());
                let Some(unit) = unit else {
                    return Err(MetricsError::Invalid(format!(
                        "{}: plan change of `{id}` to `{plan_id}` without a unit amount or a catalog price in {}",
                        crate::time::format_ts(ts),
                        s.currency
                    )));
                };
                if unit < 0 || quantity.is_some_and(|q| q < 0) || *interval_months == 0 {
                    return Err(MetricsError::Invalid(format!(
                        "plan change of `{id}`: bad amount, quantity or interval"
                    )));
                }
                s.plan_id = plan_id.clone();
                s.unit_amount_minor = unit;
                s.interval_months = *interval_months;
                if let Some(q) = quantity {
                    s.quantity = *q;
                }
                if *clear_discount {
                    s.discounts.clear();
                }
                if let Some(p) = period {
                    s.period = Some(*p);
                }
            }
            FactKind::QuantityChanged { subscription_id, quantity, at_period_end } => {
                if *quantity < 0 {
                    return Err(MetricsError::Invalid(format!("negative quantity {quantity}")));
                }
                if let Some(id) = self.resolve(ts, name, subscription_id.as_deref()) {
                    if let Some(s) = self.state.subscriptions.get_mut(&id) {
                        if *at_period_end && s.strictly_inside_period(ts) {
                            s.deferred.push(FactKind::QuantityChanged {
                                subscription_id: Some(id),
                                quantity: *quantity,
                                at_period_end: false,
                            });
                        } else {
                            s.quantity = *quantity;
                        }
                    }
                }
            }
            FactKind::DiscountApplied { subscription_id, discount } => {
                check_ts(discount.start)?;
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    if let Some(s) = self.state.subscriptions.get_mut(&id) {
                        s.discounts.push(discount.clone());
                    }
                }
            }
            FactKind::Paused { subscription_id } => {
                self.set_status(ts, name, subscription_id.as_deref(), SubStatus::Paused, None)
            }
            FactKind::Resumed { subscription_id, period } => {
                self.set_status(ts, name, subscription_id.as_deref(), SubStatus::Active, *period)
            }
            FactKind::PastDue { subscription_id } => {
                self.set_status(ts, name, Some(subscription_id), SubStatus::PastDue, None)
            }
            FactKind::Recovered { subscription_id } => {
                self.set_status(ts, name, Some(subscription_id), SubStatus::Active, None)
            }
            FactKind::Canceled { subscription_id, .. } => {
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    self.cancel(month, &id)?;
                }
            }
            FactKind::CancelRequested { subscription_id, at_period_end, .. } => {
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    if let Some(s) = self.state.subscriptions.get_mut(&id) {
                        if *at_period_end && !s.status.ended() {
                            s.cancel_at_period_end = true;
                        }
                    }
                }
            }
            FactKind::CancelWithdrawn { subscription_id } => {
                if let Some(id) = self.resolve(ts, name, Some(subscription_id)) {
                    if let Some(s) = self.state.subscriptions.get_mut(&id) {
                        s.cancel_at_period_end = false;
                    }
                }
            }
            FactKind::InvoicePaid(inv) => self.invoice(catalog, ts, month, inv, true)?,
            FactKind::PaymentFailed(inv) => self.invoice(catalog, ts, month, inv, false)?,
            FactKind::Refunded { subscription_id, currency, amount_minor, cancels_subscription, .. } => {
                if self.includes_invoice(*currency, subscription_id.as_deref()) {
                    let base = catalog.to_base(*amount_minor, *currency, ts)?;
                    let cash = &mut self.record(month).flows.cash;
                    cash.refunds += 1;
                    cash.refunded = add_i64(cash.refunded, base)?;
                }
                if *cancels_subscription {
                    if let Some(id) = self.resolve(ts, name, subscription_id.as_deref()) {
                        self.cancel(month, &id)?;
                    }
                }
            }
            FactKind::Step { .. }
            | FactKind::Note { .. }
            | FactKind::Unknown { .. }
            | FactKind::MarketingSpend { .. } => {}
        }
        Ok(())
    }

    fn set_status(&mut self, ts: i64, what: &str, id: Option<&str>, status: SubStatus, period: Option<Period>) {
        let Some(id) = self.resolve(ts, what, id) else { return };
        let Some(s) = self.state.subscriptions.get_mut(&id) else { return };
        if s.status.ended() {
            self.warnings.push(format!("{}: {what} for ended subscription `{id}` ignored", crate::time::format_ts(ts)));
            return;
        }
        s.status = status;
        if let Some(p) = period {
            s.period = Some(p);
        }
    }
}
