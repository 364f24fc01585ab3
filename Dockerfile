# syntax=docker/dockerfile:1
#
# docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t onramp .
# docker run -p 8080:8080 -v onramp-data:/data -e ONRAMP_BOOTSTRAP_TOKEN=... onramp

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/onramp ./cmd/onramp \
 && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/onramp /onramp
# An empty /data owned by the nonroot user (65532): a new volume mounted
# there starts with this ownership, so the SQLite file can be created.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
EXPOSE 8080
VOLUME /data
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/onramp", "healthcheck"]
ENTRYPOINT ["/onramp"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--database", "sqlite:/data/onramp.db"]
