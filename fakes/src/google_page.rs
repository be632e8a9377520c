//! The Google stand-in's sign-in page: asks which address signs in (any address works, verified)
//! and carries the authorization request on to the code redirect.

use crate::page::{esc, page};
use std::collections::HashMap;

pub fn chooser(query: &HashMap<String, String>) -> String {
    let hidden: String = query
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "email" | "name"))
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v)))
        .collect();
    let body = format!(
        "<section><h1>Sign in with Google</h1><p>Choose the account to continue to the app. \
         Any address works here, and counts as verified.</p>\
         <form method=\"get\" action=\"/o/oauth2/v2/auth\">{hidden}\
         <label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" required \
         autocomplete=\"email\" value=\"you@example.com\">\
         <label for=\"name\">Name</label><input id=\"name\" name=\"name\" autocomplete=\"name\" value=\"Dev Person\">\
         <button>Continue</button></form></section>"
    );
    page("Sign in – Google Accounts (stand-in)", "Google sign-in", "#1a73e8", false, &body)
}
