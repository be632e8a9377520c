//! Setting the flash message of an action (shown on the next page) and taking it for the page
//! being rendered. The format and its signature live in `views::flash`.

use crate::ctx::Ctx;
use crate::views::flash::{self, Flash, FlashKind};

impl Ctx {
    /// Shows `text` on the next page this browser opens (after the redirect of an action).
    pub fn set_flash(&self, kind: FlashKind, text: impl Into<String>) {
        let Ok(secret) = self.config.session_secret.as_ref() else { return };
        let value = flash::encode(secret.expose(), &Flash::new(kind, text), self.now_ms / 1000);
        self.add_header("Set-Cookie", flash::set_cookie(self.https(), &value));
    }

    /// The flash of the previous action, if a valid one came with this request; the cookie is
    /// cleared either way so it shows once.
    pub fn take_flash(&self) -> Option<Flash> {
        let value = self.cookie(flash::cookie_name(self.https()))?;
        self.add_header("Set-Cookie", flash::clear_cookie(self.https()));
        let secret = self.config.session_secret.as_ref().ok()?;
        flash::decode(secret.expose(), value, self.now_ms / 1000)
    }
}
