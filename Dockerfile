# syntax=docker/dockerfile:1
#
# The albatross image: the release binary on distroless, run as user 65532 (the pod's
# securityContext), nothing else in it. Multi-arch without emulation: the build stage runs on
# the builder's own platform and cross-compiles for TARGETARCH.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/albatross-gw/albatross:0.1.0 .
#
# The binary links glibc dynamically and carries C code (ring, mimalloc), so the runtime is
# distroless "cc" (glibc, libgcc, CA certificates), Debian 12 like the build stage.

FROM --platform=$BUILDPLATFORM rust:1.95.0-bookworm AS build
ARG TARGETARCH
WORKDIR /src
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# A cross linker and C compiler only when building for the other architecture (Debian's
# versions of the day: the toolchain, not the binary, comes from them; $pkgs is a word list).
# hadolint ignore=DL3008,SC2086
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-gnu; pkgs="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;; \
      arm64) triple=aarch64-unknown-linux-gnu; pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac; \
    if [ "$(rustc -vV | sed -n 's/^host: //p')" != "$triple" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends $pkgs; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    rustup target add "$triple"; \
    echo "$triple" > /target-triple

COPY . .

# The release build the README documents (CARGO_BUILD_TARGET picks the architecture).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=albatross-target-$TARGETARCH \
    set -eu; \
    triple="$(cat /target-triple)"; \
    if [ "$(rustc -vV | sed -n 's/^host: //p')" != "$triple" ]; then \
      case "$triple" in \
        aarch64-*) export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
                          CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc ;; \
        x86_64-*) export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
                         CC_x86_64_unknown_linux_gnu=x86_64-linux-gnu-gcc ;; \
      esac; \
    fi; \
    export CARGO_BUILD_TARGET="$triple"; \
    cargo build --release --locked --bin albatross; \
    install -D -m 0755 "target/$triple/release/albatross" /out/albatross

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/albatross /usr/local/bin/albatross
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/albatross"]
CMD ["serve"]
