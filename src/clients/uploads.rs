//! Episodes kept in R2 (the `UPLOADS` binding) between their upload and the end of their run.
//!
//! The binding is driven through its JavaScript methods with the upload's own `Blob`: the file
//! never enters WebAssembly memory (which only grows), and a Blob's length is known, as
//! production R2 requires of what it stores (a bare stream is refused there).

use crate::error::AppError;
use std::ops::Range;
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

    /// Keeps a small text (a chunk's transcript, while its run is under way) at `key`.
    pub async fn put_text(&self, key: &str, text: &str) -> Result<(), AppError> {
        Self::call(&self.bucket, "put", &[key.into(), text.into()]).await.map(|_| ())
    }

    /// The text kept at `key`, or None.
    pub async fn get_text(&self, key: &str) -> Result<Option<String>, AppError> {
        let object = Self::call(&self.bucket, "get", &[key.into()]).await?;
        if object.is_null() || object.is_undefined() {
            return Ok(None);
        }
        Ok(Self::call(&object, "text", &[]).await?.as_string())
    }

    /// The stored episode's size in bytes, or None when there is none.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, AppError> {
        let object = Self::call(&self.bucket, "head", &[key.into()]).await?;
        if object.is_null() || object.is_undefined() {
            return Ok(None);
        }
        let size = Reflect::get(&object, &"size".into()).map_err(|e| failed("head", e))?;
        Ok(size.as_f64().map(|s| s as u64))
    }

    /// The object at `key` with only the bytes `range` of its body (fewer at its end), or None.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Option<JsValue>, AppError> {
        let wanted = worker::js_sys::Object::new();
        let options = worker::js_sys::Object::new();
        let set = |o: &worker::js_sys::Object, k: &str, v: JsValue| {
            Reflect::set(o, &k.into(), &v).map(|_| ()).map_err(|e| failed("get", e))
        };
        set(&wanted, "offset", (range.start as f64).into())?;
        set(&wanted, "length", ((range.end - range.start) as f64).into())?;
        set(&options, "range", wanted.into())?;
        let object = Self::call(&self.bucket, "get", &[key.into(), options.into()]).await?;
        Ok((!object.is_null() && !object.is_undefined()).then_some(object))
    }

    /// The bytes `range` of the stored episode as a Blob (read by the runtime, outside
    /// WebAssembly): a chunk of an episode too large to read whole.
    pub async fn range(&self, key: &str, range: Range<u64>) -> Result<Blob, AppError> {
        let object =
            self.get_range(key, range).await?.ok_or_else(|| failed("get", "the episode is gone".into()))?;
        let blob = Self::call(&object, "blob", &[]).await?;
        blob.dyn_into::<Blob>().map_err(|e| failed("blob", e))
    }

    /// `length` bytes of the stored object from `offset` (fewer at its end), or None when
    /// there is no such object: what the checks of an upload in parts read.
    pub async fn read_range(
        &self,
        key: &str,
        offset: usize,
        length: usize,
    ) -> Result<Option<Vec<u8>>, AppError> {
        let Some(object) = self.get_range(key, offset as u64..(offset + length) as u64).await? else {
            return Ok(None);
        };
        let buffer = Self::call(&object, "arrayBuffer", &[]).await?;
        Ok(Some(worker::js_sys::Uint8Array::new(&buffer).to_vec()))
    }

    /// Starts a multipart upload to `key`: R2's id for it.
    pub async fn create_multipart(&self, key: &str) -> Result<String, AppError> {
        let upload = Self::call(&self.bucket, "createMultipartUpload", &[key.into()]).await?;
        Reflect::get(&upload, &"uploadId".into())
            .ok()
            .and_then(|id| id.as_string())
            .ok_or_else(|| failed("createMultipartUpload", "no uploadId".into()))
    }

    /// The multipart upload `upload_id` to `key` (a handle; nothing is sent).
    fn multipart(&self, key: &str, upload_id: &str) -> Result<JsValue, AppError> {
        let resume: Function = Reflect::get(&self.bucket, &"resumeMultipartUpload".into())
            .and_then(|f| f.dyn_into::<Function>())
            .map_err(|e| failed("resumeMultipartUpload", e))?;
        resume
            .call2(&self.bucket, &key.into(), &upload_id.into())
            .map_err(|e| failed("resumeMultipartUpload", e))
    }

    /// Stores part `n` (from 1), the runtime's own buffer (never copied into the Worker): its etag.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        n: u32,
        part: &JsValue,
    ) -> Result<String, AppError> {
        let upload = self.multipart(key, upload_id)?;
        let uploaded = Self::call(&upload, "uploadPart", &[n.into(), part.clone()]).await?;
        Reflect::get(&uploaded, &"etag".into())
            .ok()
            .and_then(|e| e.as_string())
            .ok_or_else(|| failed("uploadPart", "no etag".into()))
    }

    /// Joins the parts (number, etag) into the object at `key`.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), AppError> {
        let upload = self.multipart(key, upload_id)?;
        let list = Array::new();
        for (n, etag) in parts {
            let part = worker::js_sys::Object::new();
            Reflect::set(&part, &"partNumber".into(), &(*n).into()).map_err(|e| failed("complete", e))?;
            Reflect::set(&part, &"etag".into(), &etag.into()).map_err(|e| failed("complete", e))?;
            list.push(&part);
        }
        Self::call(&upload, "complete", &[list.into()]).await.map(|_| ())
    }

    /// Gives up a multipart upload: R2 forgets its parts.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), AppError> {
        let upload = self.multipart(key, upload_id)?;
        Self::call(&upload, "abort", &[]).await.map(|_| ())
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
