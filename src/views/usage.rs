//! The dashboard's usage: this period's allowance (used, left, when it renews or ends) and the
//! credits spent per day over 30 days, per tool, as a stacked chart with a table of the same
//! numbers. Pure.

use super::billing::plan_period;
use super::chart::{series_class, stacked_chart, BarChart, Series};
use crate::domain::billing::Plan;
use crate::domain::calendar::Day;
use crate::domain::entitlement::Entitlement;
use crate::domain::tool::Tool;
use crate::domain::usage::{DayUsage, PeriodUsage};
use crate::domain::Credits;

/// The paid plan's period: its allowance, how much of it is used and left, and its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowanceView {
    /// "Starter".
    pub plan: String,
    pub allowance: Credits,
    /// Credits spent on the tools this period, up to the allowance.
    pub used: Credits,
    /// What is left of the allowance (never more than the balance: credits taken back for a
    /// refund leave less).
    pub left: Credits,
    /// "Renews on 4 January 2027 (UTC)", "Ends on …".
    pub period: String,
}

/// This period's allowance, for a paid plan whose period has an allowance granted.
pub fn allowance(e: &Entitlement, periods: &[PeriodUsage], balance: Credits) -> Option<AllowanceView> {
    if e.plan == Plan::Free {
        return None;
    }
    let sub = e.subscription.as_ref()?;
    let p = periods.iter().find(|p| p.subscription_id == sub.id).filter(|p| p.allowance > 0)?;
    let used = p.spent.clamp(Credits::ZERO, p.allowance);
    Some(AllowanceView {
        plan: e.plan.name().to_string(),
        allowance: p.allowance,
        used,
        left: (p.allowance - used).min(balance.max(Credits::ZERO)),
        period: plan_period(e),
    })
}

/// One day's row of the chart's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    /// "2026-12-04".
    pub day: String,
    /// Credits per tool, in `Tool::ALL` order (the chart's stacking order).
    pub credits: Vec<i64>,
    pub total: i64,
}

pub struct SpendingView {
    pub chart: BarChart,
    /// The tools' names and CSS classes, for the legend and the table's header.
    pub tools: Vec<(String, String)>,
    /// Oldest first, every day of the 30.
    pub days: Vec<DayRow>,
    /// Credits spent over the 30 days.
    pub total: i64,
    /// Whether any tool was used (else the page says so instead of drawing nothing).
    pub any: bool,
}

/// Credits spent per day for the `days` UTC days ending `today`, zero where nothing was.
pub fn spending(usage: &[DayUsage], today: Day, days: i64) -> SpendingView {
    let dates: Vec<String> = (0..days).rev().map(|back| today.before(back).iso()).collect();
    let credits = |day: &str, tool: Tool| -> i64 {
        usage.iter().filter(|u| u.day == day && u.tool == tool).map(|u| u.credits.get()).sum()
    };
    let rows: Vec<DayRow> = dates
        .iter()
        .map(|day| {
            let credits: Vec<i64> = Tool::ALL.iter().map(|tool| credits(day, *tool)).collect();
            DayRow { day: day.clone(), total: credits.iter().sum(), credits }
        })
        .collect();
    let labels: Vec<String> = dates.iter().map(|d| d[5..].to_string()).collect();
    let series: Vec<Series<'_>> = Tool::ALL
        .iter()
        .enumerate()
        .map(|(i, tool)| Series { name: tool.name(), values: rows.iter().map(|r| r.credits[i]).collect() })
        .collect();
    let title = format!("Credits spent per day by tool, last {days} days");
    let chart = stacked_chart(&title, &labels, &series, |name, v, _| {
        let credits = format!("{v} credit{}", if v == 1 { "" } else { "s" });
        if name.is_empty() {
            credits
        } else {
            format!("{name} {credits}")
        }
    });
    SpendingView {
        chart,
        tools: Tool::ALL
            .iter()
            .enumerate()
            .map(|(i, tool)| (tool.name().to_string(), series_class(i)))
            .collect(),
        total: rows.iter().map(|r| r.total).sum(),
        any: !usage.is_empty(),
        days: rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing::SubscriptionRecord;

    fn day(day: &str, tool: Tool, credits: i64) -> DayUsage {
        DayUsage { day: day.into(), tool, credits: Credits::new(credits) }
    }

    #[test]
    fn every_day_of_the_thirty_is_there_with_each_tools_credits() {
        let today = Day::of_unix_secs(1_796_342_400); // 2026-12-04
        let usage = [
            day("2026-12-04", Tool::AgentWrite, 2),
            day("2026-12-04", Tool::PodScribe, 5),
            day("2026-11-05", Tool::AgentWrite, 1),
        ];
        let v = spending(&usage, today, 30);
        assert_eq!(v.days.len(), 30);
        assert_eq!(v.days[0].day, "2026-11-05");
        assert_eq!(v.days[0].credits, vec![1, 0]);
        assert_eq!((v.days[29].credits.clone(), v.days[29].total), (vec![2, 5], 7));
        assert_eq!(v.total, 8);
        assert_eq!(v.chart.bars.len(), 30);
        assert_eq!(v.chart.bars[29].segments[1].title, "12-04: PodScribe 5 credits");
        assert_eq!(v.chart.max_label, "7 credits");
        assert_eq!(v.tools[1], ("PodScribe".to_string(), "chart-bar series-2".to_string()));
    }

    fn entitlement(plan: Plan, cancel_at_period_end: bool) -> Entitlement {
        let sub = SubscriptionRecord {
            id: "sub_1".into(),
            user_id: crate::domain::UserId::new(1),
            customer_id: "cus_1".into(),
            price_id: "price_1".into(),
            plan: crate::domain::billing::Plan::Starter,
            status: crate::domain::billing::SubscriptionStatus::Active,
            cancel_at_period_end,
            period_start: Some(1_800_000_000 - 1000),
            period_end: Some(1_800_000_000),
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            created: 1,
            synced_at_ms: 1,
        };
        Entitlement { plan, subscription: Some(sub) }
    }

    #[test]
    fn the_allowance_is_used_up_to_its_size_and_left_never_exceeds_the_balance() {
        let periods = [PeriodUsage {
            subscription_id: "sub_1".into(),
            allowance: Credits::new(100),
            spent: Credits::new(30),
        }];
        let a = allowance(&entitlement(Plan::Starter, false), &periods, Credits::new(500)).unwrap();
        assert_eq!((a.allowance.get(), a.used.get(), a.left.get()), (100, 30, 70));
        assert_eq!(a.period, "Renews on 15 January 2027 (UTC)");
        let a = allowance(&entitlement(Plan::Starter, true), &periods, Credits::new(20)).unwrap();
        assert_eq!((a.used.get(), a.left.get()), (30, 20), "the balance is all that is left");
        assert!(a.period.starts_with("Ends on "));
        let over = [PeriodUsage {
            subscription_id: "sub_1".into(),
            allowance: Credits::new(100),
            spent: Credits::new(140),
        }];
        assert_eq!(
            allowance(&entitlement(Plan::Starter, false), &over, Credits::new(50))
                .map(|a| (a.used.get(), a.left.get())),
            Some((100, 0))
        );
        assert_eq!(allowance(&entitlement(Plan::Free, false), &periods, Credits::new(50)), None);
        assert_eq!(allowance(&entitlement(Plan::Starter, false), &[], Credits::new(50)), None);
    }
}
