//! A configured endpoint is used as given. Some operations (Signer's `GetRevocationStatus`:
//! `data-`) put a modelled prefix before the endpoint's host; on an endpoint the user
//! set (`AWS_ENDPOINT_URL`, a VPC endpoint's name, a local AWS) that prefix makes a name
//! that does not exist (`data-127.0.0.1`). The SDK for Rust has no setting to turn it off
//! (the Smithy specification asks clients for one), so this interceptor drops it.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Removes the operation's endpoint prefix before the endpoint is applied.
#[derive(Debug, Clone, Copy)]
pub struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    // Operations store their prefix in `read_before_execution`; the endpoint is applied
    // later, in the attempt.
    fn modify_before_serialization(
        &self,
        _: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}
