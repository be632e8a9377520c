//! Episodes kept in R2 (the `UPLOADS` binding) between their upload and the end of their run.
//!
//! The binding is driven through its JavaScript methods with the upload's own `Blob`: the file
//! never enters WebAssembly memory (which only grows), and a Blob's length is known, as
//! production R2 requires of what it stores (a bare stream is refused there).

use crate::error::AppError;
use worker::js_sys::{Array, Function, Promise, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::Blob;
use worker::Env;

pub struct Uploads {
    bucket: JsValue,
}

/// Where runs' episodes are kept.
pub const RUNS_PREFIX: &str = "runs/";

/// Where a run's episode is kept.
pub fn key(run_id: &str) -> String {
    format!("{RUNS_PREFIX}{run_id}")
}

fn failed(what: &str, e: JsValue) -> AppError {
    AppError::Upstream {
        service: "r2",
        detail: format!("{what}: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))),
    }
}

impl Uploads {
    pub fn of(env: &Env) -> Result<Uploads, AppError> {
        let bucket = env.bucket("UPLOADS").map_err(|e| AppError::Misconfigured {
            var: "UPLOADS",
            problem: format!("R2 binding missing: {e}"),
        })?;
        Ok(Uploads { bucket: bucket.into() })
    }

    /// Calls `method` on the binding (or on `on`) and awaits its promise.
    async fn call(on: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, AppError> {
        let f: Function = Reflect::get(on, &method.into())
            .and_then(|f| f.dyn_into::<Function>())
            .map_err(|e| failed(method, e))?;
        let promise = f.apply(on, &args.iter().collect::<Array>()).map_err(|e| failed(method, e))?;
        JsFuture::from(Promise::from(promise)).await.map_err(|e| failed(method, e))
    }

    pub async fn put(&self, key: &str, episode: &Blob) -> Result<(), AppError> {
        Self::call(&self.bucket, "put", &[key.into(), episode.into()]).await.map(|_| ())
    }

    /// The stored episode as a Blob (read by the runtime, outside WebAssembly), or None.
    pub async fn get(&self, key: &str) -> Result<Option<Blob>, AppError> {
        let object = Self::call(&self.bucket, "get", &[key.into()]).await?;
        if object.is_null() || object.is_undefined() {
            return Ok(None);
        }
        let blob = Self::call(&object, "blob", &[]).await?;
        blob.dyn_into::<Blob>().map(Some).map_err(|e| failed("blob", e))
    }

    pub async fn delete(&self, key: &str) -> Result<(), AppError> {
        Self::call(&self.bucket, "delete", &[key.into()]).await.map(|_| ())
    }

    /// Deletes the objects under `prefix` stored before `before_ms` (a page of up to 1000 a
    /// call; the next sweep takes the rest) and returns how many.
    pub async fn delete_older_than(&self, prefix: &str, before_ms: f64) -> Result<u32, AppError> {
        let options = worker::js_sys::Object::new();
        Reflect::set(&options, &"prefix".into(), &prefix.into()).map_err(|e| failed("list", e))?;
        let listed = Self::call(&self.bucket, "list", &[options.into()]).await?;
        let objects = Reflect::get(&listed, &"objects".into()).map_err(|e| failed("list", e))?;
        let mut deleted = 0;
        for object in Array::from(&objects).iter() {
            let uploaded = Reflect::get(&object, &"uploaded".into())
                .map(|d| worker::js_sys::Date::from(d).get_time())
                .unwrap_or(f64::MAX);
            let key = Reflect::get(&object, &"key".into()).ok().and_then(|k| k.as_string());
            if let (true, Some(key)) = (uploaded < before_ms, key) {
                self.delete(&key).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}
