#!/bin/sh
set -eu
# Deployed image digest: <IMAGE_DIGEST>
docker run --detach --name storefront --restart unless-stopped --publish 80:8080 <IMAGE_URI>
