//! History: a user's generations and transcripts, newest first, paginated; each viewable,
//! downloadable and deletable by its owner only — another user's id answers 404.

use crate::support::tools::{insert_generation, insert_transcript, post_form};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        history_lists_generations_and_transcripts_newest_first_a_page_at_a_time,
        another_users_items_are_invisible,
        an_owner_deletes_items_with_the_forms_token_only,
        history_needs_a_signed_in_user,
    ]
}

/// The ids of the rows of a history page, in order.
fn ids(html: &str) -> Vec<String> {
    html.split("<tr data-id=\"").skip(1).map(|rest| rest.split('"').next().unwrap().to_string()).collect()
}

async fn history_lists_generations_and_transcripts_newest_first_a_page_at_a_time(s: &'static Stack) {
    let user = s.sign_in_new("hist-pages").await;
    let mut expected = Vec::new();
    // Written oldest first (25 minutes ago) to newest (1 minute ago); minutes 10 and 20 are transcripts.
    for minute in (1..=25).rev() {
        let id = if minute % 10 == 0 {
            insert_transcript(s, user.user_id, minute).await
        } else {
            insert_generation(s, user.user_id, "done", minute).await
        };
        expected.push(id);
    }
    expected.reverse();
    let page1 = user.client.get(s.url("/history")).send().await.unwrap().text().await.unwrap();
    assert_eq!(ids(&page1), expected[..20].to_vec());
    assert!(page1.contains("href=\"/history?page=2\" rel=\"next\""));
    assert!(!page1.contains("rel=\"prev\""));
    assert!(
        page1.contains(&format!("href=\"/tools/podscribe/{}\"", expected[9])),
        "transcripts link to their page"
    );
    assert!(page1.contains(&format!("href=\"/tools/podscribe/{}/transcript.txt\" download", expected[9])));
    assert!(page1.contains(&format!("href=\"/tools/agentwrite/{}/download\" download", expected[0])));
    let page2 = user.client.get(s.url("/history?page=2")).send().await.unwrap().text().await.unwrap();
    assert_eq!(ids(&page2), expected[20..].to_vec());
    assert!(page2.contains("href=\"/history?page=1\" rel=\"prev\""));
    assert!(!page2.contains("rel=\"next\""));
    let nonsense = user.client.get(s.url("/history?page=-4")).send().await.unwrap();
    assert_eq!(ids(&nonsense.text().await.unwrap()), expected[..20].to_vec());
}

async fn another_users_items_are_invisible(s: &'static Stack) {
    let owner = s.sign_in_new("hist-owner").await;
    let other = s.sign_in_new("hist-other").await;
    let generation = insert_generation(s, owner.user_id, "done", 1).await;
    let transcript = insert_transcript(s, owner.user_id, 1).await;
    // The owner sees them.
    for path in [
        format!("/tools/agentwrite/{generation}"),
        format!("/tools/agentwrite/{generation}/download"),
        format!("/tools/podscribe/{transcript}"),
        format!("/tools/podscribe/{transcript}/transcript.srt"),
    ] {
        assert_eq!(owner.client.get(s.url(&path)).send().await.unwrap().status(), 200, "{path}");
    }
    // Nobody else does, whatever they try.
    for path in [
        format!("/tools/agentwrite/{generation}"),
        format!("/tools/agentwrite/{generation}/download"),
        format!("/tools/podscribe/{transcript}"),
        format!("/tools/podscribe/{transcript}/transcript.txt"),
        format!("/tools/podscribe/{transcript}/transcript.srt"),
        format!("/tools/podscribe/{transcript}/transcript.vtt"),
        format!("/tools/podscribe/{transcript}/show-notes.md"),
        "/tools/agentwrite/not-an-id".to_string(),
        "/tools/podscribe/ABCDEF0123456789ABCDEF0123456789".to_string(),
    ] {
        let res = other.client.get(s.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("Stored ") && !body.contains("Hello there"), "{path} leaked content");
    }
    for path in
        [format!("/tools/agentwrite/{generation}/delete"), format!("/tools/podscribe/{transcript}/delete")]
    {
        assert_eq!(post_form(s, &other, &path, &[]).await.status(), 404, "{path}");
    }
    let res = post_form(s, &other, &format!("/tools/podscribe/{transcript}/notes"), &[]).await;
    assert_eq!(res.status(), 404);
    let history = other.client.get(s.url("/history")).send().await.unwrap().text().await.unwrap();
    assert!(!history.contains(&generation) && !history.contains(&transcript));
    let db = s.sql().await;
    let left: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM generations WHERE id = $1) + (SELECT count(*) FROM transcripts WHERE id = $2)",
            &[&generation, &transcript],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 2, "nothing was deleted by another user");
}

async fn an_owner_deletes_items_with_the_forms_token_only(s: &'static Stack) {
    let user = s.sign_in_new("hist-delete").await;
    let generation = insert_generation(s, user.user_id, "done", 1).await;
    let transcript = insert_transcript(s, user.user_id, 1).await;
    let running = insert_generation(s, user.user_id, "running", 1).await;
    let path = format!("/tools/agentwrite/{generation}/delete");
    let forged = user.client.post(s.url(&path)).form(&[("csrf", "forged")]).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    let cross_site = user
        .client
        .post(s.url(&path))
        .header("origin", "https://evil.example")
        .form(&[("csrf", user.csrf.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert_eq!(
        user.client.get(s.url(&format!("/tools/agentwrite/{generation}"))).send().await.unwrap().status(),
        200
    );

    for (path, page) in [
        (path.clone(), format!("/tools/agentwrite/{generation}")),
        (format!("/tools/podscribe/{transcript}/delete"), format!("/tools/podscribe/{transcript}")),
    ] {
        let res = post_form(s, &user, &path, &[]).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], "/history");
        assert_eq!(user.client.get(s.url(&page)).send().await.unwrap().status(), 404, "{page} is gone");
    }
    let res = post_form(s, &user, &format!("/tools/agentwrite/{running}/delete"), &[]).await;
    assert_eq!(res.status(), 400, "a run still being written is not deleted");
    assert!(res.text().await.unwrap().contains("still being written"));
}

async fn history_needs_a_signed_in_user(s: &'static Stack) {
    let res = s.get("/history").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/signin?next=%2Fhistory");
}
