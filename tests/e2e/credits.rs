//! The credits ledger's statements under real concurrency on the real schema.

use crate::support::postgres::connect;
use crate::support::tools::generations_of;
use crate::support::Stack;
use crate::trials;
use ghosttools::db::credits::{BALANCE_ROW_SQL, GRANT_SQL, NON_NEGATIVE, SPEND_CHECKED_SQL, SPEND_SQL};
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        concurrent_spends_never_overdraw_the_balance,
        concurrent_checked_spends_in_transactions_never_overdraw_the_balance,
        a_grant_for_the_same_reference_applies_once_even_when_concurrent,
    ]
}

async fn grant(s: &Stack, user: i64, amount: i64, reference: &str) -> Option<i64> {
    let db = s.sql().await;
    db.query_opt(GRANT_SQL, &[&user, &amount, &"purchase", &reference, &None::<&str>])
        .await
        .unwrap()
        .map(|r| r.get(0))
}

async fn ledger_matches_balance(s: &Stack, user: i64) -> (i64, i64) {
    let db = s.sql().await;
    let sum: i64 = db
        .query_one("SELECT coalesce(sum(delta), 0)::int8 FROM credit_ledger WHERE user_id = $1", &[&user])
        .await
        .unwrap()
        .get(0);
    let balance: i64 = db
        .query_one("SELECT coalesce((SELECT balance FROM credit_balances WHERE user_id = $1), 0)", &[&user])
        .await
        .unwrap()
        .get(0);
    (sum, balance)
}

async fn concurrent_spends_never_overdraw_the_balance(s: &'static Stack) {
    let user = s.sign_in_new("spend-race").await;
    assert_eq!(grant(s, user.user_id, 5, &format!("cs_race_{}", user.user_id)).await, Some(5));
    let spends = (0..20).map(|i| {
        let url = s.db_url.clone();
        let id = user.user_id;
        tokio::spawn(async move {
            let db = connect(&url).await;
            db.query_opt(SPEND_SQL, &[&id, &1i64, &"agentwrite", &format!("gen-{id}-{i}"), &None::<&str>])
                .await
                .unwrap()
                .is_some()
        })
    });
    let mut succeeded = 0;
    for spend in spends.collect::<Vec<_>>() {
        succeeded += spend.await.unwrap() as i32;
    }
    assert_eq!(succeeded, 5, "exactly the balance can be spent");
    assert_eq!(ledger_matches_balance(s, user.user_id).await, (0, 0));
}

/// The unguarded spend of pipelined transactions (AgentWrite's start): the balance's CHECK is
/// what refuses, and the refusal takes the transaction's other writes with it.
async fn concurrent_checked_spends_in_transactions_never_overdraw_the_balance(s: &'static Stack) {
    let user = s.sign_in_new("checked-race").await;
    let fresh = s.sign_in_new("checked-none").await;
    assert_eq!(grant(s, user.user_id, 5, &format!("cs_checked_{}", user.user_id)).await, Some(5));
    let spend = |id: i64, i: i32| {
        let url = s.db_url.clone();
        tokio::spawn(async move {
            let mut db = connect(&url).await;
            let tx = db.transaction().await.unwrap();
            tx.execute(BALANCE_ROW_SQL, &[&id]).await.unwrap();
            // A write of the same transaction that must not survive a refused spend.
            let marker = format!("{id:016x}{i:016x}");
            tx.execute(
                "INSERT INTO generations (id, user_id, status, brief, product_name, model, credits)
                 VALUES ($1, $2, 'running', '{}'::jsonb, 'race', 'm', 1)",
                &[&marker, &id],
            )
            .await
            .unwrap();
            match tx.query_opt(SPEND_CHECKED_SQL, &[&id, &1i64, &"agentwrite", &marker, &None::<&str>]).await
            {
                Ok(row) => {
                    assert!(row.is_some(), "a balance row always exists after BALANCE_ROW_SQL");
                    tx.commit().await.unwrap();
                    true
                }
                Err(e) => {
                    let constraint = e.as_db_error().and_then(|d| d.constraint()).map(str::to_string);
                    assert_eq!(constraint.as_deref(), Some(NON_NEGATIVE), "{e}");
                    false
                }
            }
        })
    };
    let spends: Vec<_> = (0..20).map(|i| spend(user.user_id, i)).collect();
    let mut succeeded = 0;
    for spend in spends {
        succeeded += spend.await.unwrap() as i32;
    }
    assert_eq!(succeeded, 5, "exactly the balance can be spent");
    assert_eq!(ledger_matches_balance(s, user.user_id).await, (0, 0));
    let runs = generations_of(s, user.user_id).await;
    assert_eq!(runs, 5, "a refused spend leaves no run behind");
    // Without any balance row yet, nothing can be taken either.
    assert!(!spend(fresh.user_id, 0).await.unwrap());
    assert_eq!(ledger_matches_balance(s, fresh.user_id).await, (0, 0));
}

async fn a_grant_for_the_same_reference_applies_once_even_when_concurrent(s: &'static Stack) {
    let user = s.sign_in_new("grant-race").await;
    let reference = format!("cs_once_{}", user.user_id);
    let grants = (0..20).map(|_| {
        let url = s.db_url.clone();
        let (id, reference) = (user.user_id, reference.clone());
        tokio::spawn(async move {
            let db = connect(&url).await;
            db.query_opt(GRANT_SQL, &[&id, &100i64, &"purchase", &reference, &None::<&str>])
                .await
                .unwrap()
                .is_some()
        })
    });
    let mut applied = 0;
    for g in grants.collect::<Vec<_>>() {
        applied += g.await.unwrap() as i32;
    }
    assert_eq!(applied, 1);
    assert_eq!(ledger_matches_balance(s, user.user_id).await, (100, 100));
}
