//! AgentWrite charges for what reached the user: an answer that stops short (the model's length
//! limit, the content filter) after its text was streamed is saved, shown as cut short and
//! charged; a model that writes far past the chosen length is relayed only up to it.

use crate::support::tools::{
    assert_ledger_matches_balance, balance, brief, grant, post_form, read_events, tool_ledger, unique,
};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        an_answer_cut_off_at_the_length_limit_after_streaming_is_charged_and_saved_as_cut_short,
        a_model_writing_past_the_chosen_length_is_relayed_only_up_to_it_and_charged,
    ]
}

/// (status, cut_short, output) of a generation.
async fn saved(s: &Stack, id: &str) -> (String, Option<String>, Option<String>) {
    let row = s
        .sql()
        .await
        .query_one("SELECT status, cut_short, output FROM generations WHERE id = $1", &[&id])
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

async fn an_answer_cut_off_at_the_length_limit_after_streaming_is_charged_and_saved_as_cut_short(
    s: &'static Stack,
) {
    let user = s.sign_in_new("aw-cut").await;
    grant(s, user.user_id, 3).await;
    let token = format!("fake-chat-length-{}", unique());
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief(&format!("Cut {token}"))).await;
    assert_eq!(res.status(), 200);
    let events = read_events(res, |e| e.event == "done" || e.event == "error").await;
    let id = events[0].data["id"].as_str().unwrap().to_string();
    let streamed: String =
        events.iter().filter(|e| e.event == "delta").map(|e| e.data["text"].as_str().unwrap()).collect();
    assert!(streamed.contains("TITLE:"), "the text reached the browser: {streamed:?}");
    let done = events.last().unwrap();
    assert_eq!(done.event, "done", "what was read is a result, not an error: {done:?}");
    assert!(done.data["cut_short"].as_str().unwrap().starts_with("Cut short"), "{:?}", done.data);
    assert_eq!(done.data["balance"], 2);

    assert_eq!(balance(s, user.user_id).await, 2, "the balance drops by the price");
    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-1, "agentwrite".into(), id.clone())], "no refund");
    assert_ledger_matches_balance(s, user.user_id).await;
    let (status, cut, output) = saved(s, &id).await;
    assert_eq!((status.as_str(), cut.as_deref()), ("done", Some("length")));
    assert_eq!(output.as_deref(), Some(streamed.as_str()), "saved is what was shown");

    // Its owner is told, on the result and in the history.
    let page = user.client.get(s.url(&format!("/tools/agentwrite/{id}"))).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Cut short: the answer ran past the length you chose"), "{html}");
    let history = user.client.get(s.url("/history")).send().await.unwrap().text().await.unwrap();
    let row = history.split(&format!("data-id=\"{id}\"")).nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains("Done (cut short)") && row.contains("/download"), "{row}");
}

async fn a_model_writing_past_the_chosen_length_is_relayed_only_up_to_it_and_charged(s: &'static Stack) {
    let user = s.sign_in_new("aw-long").await;
    grant(s, user.user_id, 1).await;
    let token = format!("fake-chat-long-{}", unique());
    // A "short" brief (400 tokens) answered with thousands of words and finish_reason "stop".
    let res = post_form(s, &user, "/api/tools/agentwrite/stream", &brief(&format!("Long {token}"))).await;
    let events = read_events(res, |e| e.event == "done" || e.event == "error").await;
    let id = events[0].data["id"].as_str().unwrap().to_string();
    let streamed: String =
        events.iter().filter(|e| e.event == "delta").map(|e| e.data["text"].as_str().unwrap()).collect();
    assert!(streamed.starts_with("TITLE:"));
    assert!(
        streamed.chars().count() <= 1600,
        "at most 4 characters a token of the short length's 400 reach the browser: {}",
        streamed.chars().count()
    );
    let done = events.last().unwrap();
    assert_eq!(done.event, "done", "{done:?}");
    assert!(done.data["cut_short"].as_str().unwrap().contains("ran past the length you chose"));
    let (status, cut, output) = saved(s, &id).await;
    assert_eq!((status.as_str(), cut.as_deref()), ("done", Some("length")));
    assert_eq!(output.as_deref(), Some(streamed.as_str()), "nothing past the cap is kept either");
    assert_eq!(tool_ledger(s, user.user_id).await, vec![(-1, "agentwrite".into(), id)]);
    assert_eq!(balance(s, user.user_id).await, 0);
}
