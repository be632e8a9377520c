//! `GET /api/debug/error`: a deliberate 500 so an operator can see that errors reach Sentry.
//! Off unless `DEBUG_ERROR_ROUTE=true`; then it answers 404 like any unknown path.

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;

pub fn forced_error(cx: &Ctx) -> Result<Reply, AppError> {
    if !cx.config.debug_error_route {
        return Err(AppError::NotFound);
    }
    Err(AppError::internal("forced error from /api/debug/error (Sentry wiring check)"))
}
