//! The dashboard's one script and one stylesheet, embedded in the binary (debug builds read them
//! from disk, so they can be edited without rebuilding).

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "src/http/assets/"]
struct Assets;

/// `GET /assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match Assets::get(&file) {
        Some(asset) => {
            let mime = asset.metadata.mimetype().to_string();
            ([(CONTENT_TYPE, mime), (CACHE_CONTROL, "no-cache".to_string())], asset.data.into_owned()).into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no asset {file}")).into_response(),
    }
}
