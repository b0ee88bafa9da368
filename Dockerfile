# stellarfeed container image: a static binary on distroless, as non-root.
#
#   docker build -t stellarfeed .
#   docker run -p 8080:8080 -p 8081:8081 -v stellarfeed-data:/var/lib/stellarfeed stellarfeed
#
# Without arguments it runs the demo (simulator and demo keys); pass
# `run --config /etc/stellarfeed/config.yaml` for a real setup (deploy/).

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/stellarfeed ./cmd/stellarfeed \
 && mkdir -p /out/data

# distroless/static: CA certificates and tzdata, no shell, no package
# manager; "nonroot" is uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stellarfeed /usr/local/bin/stellarfeed
COPY --from=build --chown=65532:65532 /out/data /var/lib/stellarfeed
USER 65532:65532
ENV STELLARFEED_DATA=/var/lib/stellarfeed \
    STELLARFEED_WS_ADDR=:8080 \
    STELLARFEED_API_ADDR=:8081 \
    STELLARFEED_LOG_FORMAT=json
VOLUME ["/var/lib/stellarfeed"]
EXPOSE 8080 8081
# No curl in the image: the binary asks its own /readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/stellarfeed", "healthcheck"]
# SIGTERM: clients get close 1001, usage is flushed; give it the grace.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/stellarfeed"]
CMD ["run"]
