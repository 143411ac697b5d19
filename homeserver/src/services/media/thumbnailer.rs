//! Decoding and resizing images for thumbnails with the `image` crate (PNG, JPEG, WebP, GIF), bounded so a
//! hostile file cannot exhaust memory: the format is sniffed from the bytes (never the claimed type), the
//! declared dimensions are checked against `[media] max_thumbnail_pixels` before any pixel is decoded, and the
//! decoder runs under `image::Limits` (width, height and total allocation). Blocking: run it on
//! `spawn_blocking` (the service does, behind a semaphore).

use std::io::Cursor;

use hearth_client_api::media::thumbnail::{Method, Size, crop_region, output_dimensions};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits};

use super::error::MediaError;

/// JPEG quality of JPEG thumbnails.
const JPEG_QUALITY: u8 = 80;
/// Decoder working memory allowed on top of the decoded pixels (4 bytes each).
const ALLOCATION_SLACK: u64 = 64 * 1024 * 1024;

/// A generated thumbnail.
#[derive(Debug)]
pub struct Thumbnail {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Its content type (`image/jpeg` for JPEG originals, `image/png` otherwise).
    pub content_type: &'static str,
    /// Actual width in pixels.
    pub width: u32,
    /// Actual height in pixels.
    pub height: u32,
}

/// Makes a thumbnail of `original` for `size`'s box; `Ok(None)` when the original already fits (serve it
/// as it is). Refuses images of more than `max_pixels` pixels with [`MediaError::TooLargeToThumbnail`] and
/// anything that is not a decodable PNG/JPEG/WebP/GIF with [`MediaError::CannotThumbnail`].
pub fn generate(
    original: &[u8],
    size: Size,
    max_pixels: u64,
) -> Result<Option<Thumbnail>, MediaError> {
    let format = sniff_format(original)?;
    let (width, height) = ImageReader::with_format(Cursor::new(original), format)
        .into_dimensions()
        .map_err(decode_error)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(MediaError::TooLargeToThumbnail(format!(
            "the image has {width}x{height} pixels, more than the {max_pixels} this server thumbnails"
        )));
    }
    let Some((out_width, out_height)) = output_dimensions(width, height, size) else {
        return Ok(None);
    };
    let mut reader = ImageReader::with_format(Cursor::new(original), format);
    reader.limits(limits(max_pixels));
    let image = reader.decode().map_err(decode_error)?;
    let resized = match size.method {
        Method::Scale => image.thumbnail_exact(out_width, out_height),
        Method::Crop => {
            let (x, y, w, h) = crop_region(image.width(), image.height(), out_width, out_height);
            image
                .crop_imm(x, y, w, h)
                .thumbnail_exact(out_width, out_height)
        }
    };
    encode(&resized, format == ImageFormat::Jpeg).map(Some)
}

/// The image format from the magic bytes, if it is one Hearth thumbnails.
fn sniff_format(bytes: &[u8]) -> Result<ImageFormat, MediaError> {
    let format = image::guess_format(bytes)
        .map_err(|_| MediaError::CannotThumbnail("the content is not an image".to_owned()))?;
    match format {
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif => Ok(format),
        other => Err(MediaError::CannotThumbnail(format!(
            "cannot thumbnail {other:?} images"
        ))),
    }
}

/// Decoder limits for images of at most `max_pixels` pixels.
fn limits(max_pixels: u64) -> Limits {
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(
        max_pixels
            .saturating_mul(4)
            .saturating_add(ALLOCATION_SLACK),
    );
    limits
}

fn decode_error(error: ImageError) -> MediaError {
    match error {
        ImageError::Limits(limit) => {
            MediaError::TooLargeToThumbnail(format!("the image is too large to thumbnail: {limit}"))
        }
        other => MediaError::CannotThumbnail(format!("the image cannot be decoded: {other}")),
    }
}

fn encode(image: &DynamicImage, as_jpeg: bool) -> Result<Thumbnail, MediaError> {
    let mut bytes = Vec::new();
    let content_type = if as_jpeg {
        JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
            .encode_image(&image.to_rgb8())
            .map_err(|error| MediaError::Internal(format!("encoding a JPEG thumbnail: {error}")))?;
        "image/jpeg"
    } else {
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|error| MediaError::Internal(format!("encoding a PNG thumbnail: {error}")))?;
        "image/png"
    };
    Ok(Thumbnail {
        bytes,
        content_type,
        width: image.width(),
        height: image.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    /// A PNG whose header claims `width`×`height` but that carries almost no data.
    fn png_bomb(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(1, 1);
        // IHDR data starts at byte 16: width, height (big-endian); fix the chunk's CRC after editing.
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn scales_and_crops_to_the_computed_dimensions() {
        let original = png(800, 600);
        let scaled = generate(
            &original,
            Size {
                width: 320,
                height: 240,
                method: Method::Scale,
            },
            1_000_000,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (scaled.width, scaled.height, scaled.content_type),
            (320, 240, "image/png")
        );
        let cropped = generate(
            &original,
            Size {
                width: 96,
                height: 96,
                method: Method::Crop,
            },
            1_000_000,
        )
        .unwrap()
        .unwrap();
        assert_eq!((cropped.width, cropped.height), (96, 96));
        let decoded = image::load_from_memory(&cropped.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (96, 96));
    }

    #[test]
    fn small_originals_are_served_as_they_are() {
        let size = Size {
            width: 320,
            height: 240,
            method: Method::Scale,
        };
        assert!(generate(&png(100, 50), size, 1_000_000).unwrap().is_none());
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        let size = Size {
            width: 32,
            height: 32,
            method: Method::Crop,
        };
        let bomb = png_bomb(100_000, 100_000);
        assert!(bomb.len() < 100);
        let error = generate(&bomb, size, 32_000_000).unwrap_err();
        assert!(
            matches!(error, MediaError::TooLargeToThumbnail(_)),
            "{error}"
        );
    }

    #[test]
    fn non_images_cannot_be_thumbnailed() {
        let size = Size {
            width: 32,
            height: 32,
            method: Method::Crop,
        };
        let error = generate(b"<html><script>alert(1)</script>", size, 1_000).unwrap_err();
        assert!(matches!(error, MediaError::CannotThumbnail(_)), "{error}");
    }
}
