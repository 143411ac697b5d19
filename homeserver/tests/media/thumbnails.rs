//! Thumbnails of PNG, JPEG, WebP and GIF images: the returned images are decoded and their dimensions checked
//! against the spec's rules (crop fills the box, scale fits it, nothing is upscaled).

use std::io::Cursor;

use hearth::storage::Backend;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::Method;

use crate::common::{TestServer, start};
use crate::{Answer, assert_error, both_backends, mxc_path, seed_users, send, upload};

/// An image of `width`×`height` with a gradient (so encoders do real work), encoded as `format`.
pub fn image_bytes(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let pixels = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let image = DynamicImage::ImageRgb8(pixels);
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

async fn thumbnail(server: &TestServer, mxc: &str, query: &str) -> Answer {
    send(
        server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/thumbnail/{}?{query}",
            mxc_path(mxc)
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await
}

/// The decoded dimensions of a thumbnail answer.
pub fn dimensions(answer: &Answer) -> (u32, u32) {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let decoded = image::load_from_memory(&answer.body).expect("the thumbnail decodes");
    (decoded.width(), decoded.height())
}

async fn thumbnails_of_png_jpeg_webp_and_gif_have_the_spec_dimensions(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    for (format, content_type) in [
        (ImageFormat::Png, "image/png"),
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::WebP, "image/webp"),
        (ImageFormat::Gif, "image/gif"),
    ] {
        let mxc = upload(
            &server,
            "alice-token",
            content_type,
            image_bytes(800, 600, format),
        )
        .await;
        let crop = thumbnail(&server, &mxc, "width=96&height=96&method=crop").await;
        assert_eq!(dimensions(&crop), (96, 96), "{content_type} crop");
        let expected_type = if format == ImageFormat::Jpeg {
            "image/jpeg"
        } else {
            "image/png"
        };
        assert_eq!(crop.header("content-type"), Some(expected_type));
        assert_eq!(crop.header("x-content-type-options"), Some("nosniff"));
        // The smallest default that is large enough: 320x240 for a 100x100 scale request.
        let scale = thumbnail(&server, &mxc, "width=100&height=100&method=scale").await;
        assert_eq!(dimensions(&scale), (320, 240), "{content_type} scale");
        // Scale keeps the aspect ratio of the original; method defaults to scale.
        let tall = upload(
            &server,
            "alice-token",
            content_type,
            image_bytes(300, 900, format),
        )
        .await;
        assert_eq!(
            dimensions(&thumbnail(&server, &tall, "width=320&height=240").await),
            (80, 240)
        );
        // A crop larger than the crop defaults is made exactly.
        assert_eq!(
            dimensions(&thumbnail(&server, &mxc, "width=200&height=100&method=crop").await),
            (200, 100)
        );
    }
    server.stop().await;
}
both_backends!(thumbnails_of_png_jpeg_webp_and_gif_have_the_spec_dimensions);

async fn small_images_are_never_upscaled_and_thumbnails_are_cached(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let small = image_bytes(50, 40, ImageFormat::Png);
    let mxc = upload(&server, "alice-token", "image/png", small.clone()).await;
    // The original is smaller than the box: the original is served as it is.
    let answer = thumbnail(&server, &mxc, "width=320&height=240&method=scale").await;
    assert_eq!(dimensions(&answer), (50, 40));
    assert!(answer.body == small);
    // Larger than every default: the original.
    let big = upload(
        &server,
        "alice-token",
        "image/png",
        image_bytes(900, 700, ImageFormat::Png),
    )
    .await;
    assert_eq!(
        dimensions(&thumbnail(&server, &big, "width=1000&height=1000").await),
        (900, 700)
    );
    // The second request is served from the stored thumbnail, byte for byte.
    let first = thumbnail(&server, &big, "width=32&height=32&method=crop").await;
    let second = thumbnail(&server, &big, "width=32&height=32&method=crop").await;
    assert_eq!(dimensions(&first), (32, 32));
    assert!(first.body == second.body);
    server.stop().await;
}
both_backends!(small_images_are_never_upscaled_and_thumbnails_are_cached);

async fn bad_thumbnail_requests_get_clear_errors(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let mxc = upload(
        &server,
        "alice-token",
        "image/png",
        image_bytes(100, 100, ImageFormat::Png),
    )
    .await;
    assert_error(
        &thumbnail(&server, &mxc, "height=32").await,
        400,
        "M_MISSING_PARAM",
    );
    assert_error(
        &thumbnail(&server, &mxc, "width=0&height=32").await,
        400,
        "M_INVALID_PARAM",
    );
    assert_error(
        &thumbnail(&server, &mxc, "width=-5&height=32").await,
        400,
        "M_INVALID_PARAM",
    );
    assert_error(
        &thumbnail(&server, &mxc, "width=32&height=32&method=zoom").await,
        400,
        "M_INVALID_PARAM",
    );
    // Not an image (whatever its claimed type): 400 M_UNKNOWN, as the spec's example.
    let text = upload(
        &server,
        "alice-token",
        "image/png",
        b"not really a png".to_vec(),
    )
    .await;
    assert_error(
        &thumbnail(&server, &text, "width=32&height=32").await,
        400,
        "M_UNKNOWN",
    );
    server.stop().await;
}
both_backends!(bad_thumbnail_requests_get_clear_errors);
