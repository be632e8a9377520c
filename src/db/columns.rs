//! The domain's values as columns, converted here and nowhere else: a `UserId` is an `int8`
//! (`users.id` and every `user_id`); `Credits` are an `int8` (balances, the ledger's deltas) or
//! an `int4` (what a run reserved or got back), whichever the parameter or column is; an `EmailAddress` is read from `text` by parsing it again
//! (an address that no longer parses is an error of the row, never a panic). They are `ToSql`/`FromSql`, so a query passes them as
//! typed parameters and reads them back from rows as they are. (JSON rows deserialize them
//! through serde: they are transparent there.)

use crate::domain::{Credits, EmailAddress, UserId};
use std::error::Error;
// The type `to_sql` writes into, as postgres-types names it for its own macro.
use tokio_postgres::types::private::BytesMut;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

impl ToSql for UserId {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.get().to_sql(ty, out)
    }
    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for UserId {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        i64::from_sql(ty, raw).map(UserId::new)
    }
    fn accepts(ty: &Type) -> bool {
        <i64 as FromSql>::accepts(ty)
    }
}

impl<'a> FromSql<'a> for EmailAddress {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let text = <&str as FromSql>::from_sql(ty, raw)?;
        EmailAddress::parse(text).map_err(|e| format!("a stored address that does not parse: {e}").into())
    }
    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

impl ToSql for Credits {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        if *ty == Type::INT4 {
            i32::try_from(self.get())?.to_sql(ty, out)
        } else {
            self.get().to_sql(ty, out)
        }
    }
    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty) || <i32 as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Credits {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        if *ty == Type::INT4 {
            i32::from_sql(ty, raw).map(Credits::from)
        } else {
            i64::from_sql(ty, raw).map(Credits::new)
        }
    }
    fn accepts(ty: &Type) -> bool {
        <i64 as FromSql>::accepts(ty) || <i32 as FromSql>::accepts(ty)
    }
}
