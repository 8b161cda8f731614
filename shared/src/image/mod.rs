//! Container images: references (`registry/repository:tag@digest`, one parser for ECR,
//! ECR Public, Docker Hub and other registries; one image named exactly by its tag or
//! digest), the naming rules ECR enforces, and the image files a build leaves in an
//! artifact (`imageDetail.json`, `imagedefinitions.json`).
//!
//! The readers take JSON already parsed, so the caller decides how a file is read and
//! bounded; they only interpret it.

mod file;
mod name;
mod reference;
mod rules;

pub use file::{
    IMAGE_DEFINITIONS, IMAGE_DETAIL, ImageDefinition, ImageDetail, ImageFile, image_files,
    is_image_file, read_image_definitions, read_image_detail, read_image_file, select_definition,
};
pub use name::{
    DOCKER_HUB_API_HOST, EcrHost, EcrRepository, ImageName, NameError, Registry, registry_host,
};
pub use reference::{EcrImageRef, Reference, ReferenceError};
pub use rules::{
    is_account_id, is_digest, is_ecr_repository_name, is_region, is_tag, short_digest,
};
