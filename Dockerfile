# syntax=docker/dockerfile:1
# The kguard image that deploy/kubernetes runs (ghcr.io/kguard/kguard): one static binary on an
# empty base, run as a numeric non-root user, fit for `readOnlyRootFilesystem: true`.
#
#   docker build -t ghcr.io/kguard/kguard:0.1.0 .
#
# Checked by crates/server/tests/deploy.rs (non-root, static, the user the deployment runs as) and
# built by .ci/run when a Docker daemon is available.

FROM docker.io/library/rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# Static (musl, no dynamic loader needed), thin LTO (the `dist` profile); aws-lc-rs is compiled
# with musl-gcc. --locked: the Cargo.lock in the repository, nothing newer.
RUN cargo build --locked --profile dist --target x86_64-unknown-linux-musl -p kguard-cli \
 && install -D -m 0555 target/x86_64-unknown-linux-musl/dist/kguard /out/kguard

FROM scratch
COPY --from=build /out/kguard /kguard
# The deployment's runAsUser/runAsGroup; numeric so that runAsNonRoot can verify it.
USER 65532:65532
ENTRYPOINT ["/kguard"]
CMD ["serve", "--config", "/etc/kguard/config/kguard.yaml"]
