//! Thumbnail rules of the spec ("Thumbnails"): which size to generate for a request, and the output
//! dimensions for a given original, without decoding anything.
//!
//! Hearth generates the spec's default sizes on demand (and caches them): a request is served from the
//! smallest default of its method that is at least as large as asked. Crop requests larger than every crop
//! default get a crop of exactly the requested size up to [`MAX_DYNAMIC_CROP`]; a scale request larger than
//! every default, and any request the original already fits, gets the original content — the spec forbids
//! upscaling and returning less than asked for when the original allows more.

use std::fmt;

/// How a thumbnail is fitted to the requested box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Fill the box exactly (cropping what overflows): the requested aspect ratio.
    Crop,
    /// Fit inside the box: the original's aspect ratio.
    Scale,
}

impl Method {
    /// Parses the `method` query parameter.
    pub fn parse(value: &str) -> Option<Method> {
        match value {
            "crop" => Some(Method::Crop),
            "scale" => Some(Method::Scale),
            _ => None,
        }
    }

    /// The wire (and database) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Crop => "crop",
            Method::Scale => "scale",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A thumbnail size and method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size {
    /// Width of the box, in pixels.
    pub width: u32,
    /// Height of the box, in pixels.
    pub height: u32,
    /// How the image is fitted to the box.
    pub method: Method,
}

/// The sizes the spec says servers SHOULD produce.
pub const DEFAULT_SIZES: [Size; 5] = [
    Size {
        width: 32,
        height: 32,
        method: Method::Crop,
    },
    Size {
        width: 96,
        height: 96,
        method: Method::Crop,
    },
    Size {
        width: 320,
        height: 240,
        method: Method::Scale,
    },
    Size {
        width: 640,
        height: 480,
        method: Method::Scale,
    },
    Size {
        width: 800,
        height: 600,
        method: Method::Scale,
    },
];

/// The largest crop box generated for a request larger than the crop defaults.
pub const MAX_DYNAMIC_CROP: u32 = 800;

/// What a thumbnail request is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A thumbnail generated for this box.
    Thumbnail(Size),
    /// The original content (it is what the spec's rules leave).
    Original,
}

/// Chooses the box to generate for a request of `width`×`height` with `method` (both at least 1).
pub fn choose_target(width: u32, height: u32, method: Method) -> Target {
    let fitting = DEFAULT_SIZES
        .iter()
        .filter(|size| size.method == method && size.width >= width && size.height >= height)
        .min_by_key(|size| u64::from(size.width) * u64::from(size.height));
    match (fitting, method) {
        (Some(size), _) => Target::Thumbnail(*size),
        (None, Method::Crop) if width <= MAX_DYNAMIC_CROP && height <= MAX_DYNAMIC_CROP => {
            Target::Thumbnail(Size {
                width,
                height,
                method,
            })
        }
        (None, _) => Target::Original,
    }
}

/// The dimensions of the thumbnail of an `original_width`×`original_height` image in `size`'s box, or `None`
/// when the original fits the box already (then the original is served: no upscaling).
pub fn output_dimensions(
    original_width: u32,
    original_height: u32,
    size: Size,
) -> Option<(u32, u32)> {
    let (ow, oh) = (
        u64::from(original_width.max(1)),
        u64::from(original_height.max(1)),
    );
    let (tw, th) = (u64::from(size.width.max(1)), u64::from(size.height.max(1)));
    if ow <= tw && oh <= th {
        return None;
    }
    let (w, h) = match size.method {
        // Fit inside the box, keeping the original's aspect ratio.
        Method::Scale => {
            if tw * oh <= th * ow {
                (tw, (tw * oh / ow).max(1))
            } else {
                ((th * ow / oh).max(1), th)
            }
        }
        // The box's aspect ratio, shrunk (never grown) until it fits inside the original.
        Method::Crop => {
            if ow >= tw && oh >= th {
                (tw, th)
            } else if ow * th <= oh * tw {
                (ow, (ow * th / tw).max(1))
            } else {
                ((oh * tw / th).max(1), oh)
            }
        }
    };
    Some((
        u32::try_from(w).unwrap_or(u32::MAX),
        u32::try_from(h).unwrap_or(u32::MAX),
    ))
}

/// The region `(x, y, width, height)` of the original to keep for a crop to `width`×`height`: the largest
/// centred rectangle of that aspect ratio.
pub fn crop_region(
    original_width: u32,
    original_height: u32,
    width: u32,
    height: u32,
) -> (u32, u32, u32, u32) {
    let (ow, oh) = (
        u64::from(original_width.max(1)),
        u64::from(original_height.max(1)),
    );
    let (tw, th) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let (cw, ch) = if ow * th > oh * tw {
        (((oh * tw) / th).clamp(1, ow), oh)
    } else {
        (ow, ((ow * th) / tw).clamp(1, oh))
    };
    let x = (ow - cw) / 2;
    let y = (oh - ch) / 2;
    let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    (to_u32(x), to_u32(y), to_u32(cw), to_u32(ch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(width: u32, height: u32, method: Method) -> Size {
        Size {
            width,
            height,
            method,
        }
    }

    #[test]
    fn requests_map_to_the_smallest_default_that_is_large_enough() {
        assert_eq!(
            choose_target(20, 20, Method::Crop),
            Target::Thumbnail(size(32, 32, Method::Crop))
        );
        assert_eq!(
            choose_target(96, 96, Method::Crop),
            Target::Thumbnail(size(96, 96, Method::Crop))
        );
        assert_eq!(
            choose_target(100, 100, Method::Scale),
            Target::Thumbnail(size(320, 240, Method::Scale))
        );
        assert_eq!(
            choose_target(700, 500, Method::Scale),
            Target::Thumbnail(size(800, 600, Method::Scale))
        );
    }

    #[test]
    fn large_crops_are_generated_exactly_and_larger_scales_get_the_original() {
        assert_eq!(
            choose_target(200, 100, Method::Crop),
            Target::Thumbnail(size(200, 100, Method::Crop))
        );
        assert_eq!(choose_target(801, 100, Method::Crop), Target::Original);
        assert_eq!(choose_target(1000, 1000, Method::Scale), Target::Original);
    }

    #[test]
    fn scale_fits_inside_the_box_keeping_the_aspect_ratio() {
        let box_ = size(320, 240, Method::Scale);
        assert_eq!(output_dimensions(800, 600, box_), Some((320, 240)));
        assert_eq!(output_dimensions(1000, 500, box_), Some((320, 160)));
        assert_eq!(output_dimensions(500, 1000, box_), Some((120, 240)));
        assert_eq!(output_dimensions(10_000, 1, box_), Some((320, 1)));
    }

    #[test]
    fn never_upscales() {
        assert_eq!(
            output_dimensions(200, 100, size(320, 240, Method::Scale)),
            None
        );
        assert_eq!(output_dimensions(32, 32, size(32, 32, Method::Crop)), None);
        // Wider than the box but not as tall: the box's aspect ratio, shrunk to fit the original.
        assert_eq!(
            output_dimensions(200, 50, size(96, 96, Method::Crop)),
            Some((50, 50))
        );
    }

    #[test]
    fn crop_fills_the_box_exactly() {
        assert_eq!(
            output_dimensions(800, 600, size(96, 96, Method::Crop)),
            Some((96, 96))
        );
        assert_eq!(crop_region(800, 600, 96, 96), (100, 0, 600, 600));
        assert_eq!(crop_region(600, 800, 96, 96), (0, 100, 600, 600));
        assert_eq!(crop_region(100, 100, 200, 100), (0, 25, 100, 50));
    }
}
