#!/bin/sh
set -eu
docker rm --force storefront 2>/dev/null || true
