# Container image: build with buildah, smoke-test with podman (no Docker daemon on these hosts).
# Included by the root Makefile (-include mk/*.mk), or alone: make -f mk/image.mk image image-smoke
# Why vfs storage, runc, chroot isolation and a local base: shared/container/README.md.

# Keep the including Makefile's default goal: targets below must not become it.
_image_mk_goal := $(.DEFAULT_GOAL)

IMAGE             ?= localhost/relance-api:latest
BASE_IMAGE        ?= localhost/debian-python:bookworm
BASE_ROOTFS       ?= /tmp/relance-rootfs
DEB_MIRROR        ?= http://deb.debian.org/debian/
# The host's CA bundle, handed to pip/uv in the build as a secret (never stored in a layer).
PIP_CA            ?= $(or $(PIP_CERT),$(SSL_CERT_FILE),/etc/ssl/certs/ca-certificates.crt)
CONTAINER_STORAGE ?= --storage-driver vfs
export IMAGE CONTAINER_STORAGE
BUILDAH = buildah $(CONTAINER_STORAGE)
PODMAN  = podman $(CONTAINER_STORAGE) --runtime runc
# podman's default rlimits are above what this host lets a container set.
IMAGE_NOFILE = $(shell n=$$(ulimit -Hn); [ "$$n" = unlimited ] && n=65536; echo $$n)

.PHONY: image image-tools image-base image-smoke

image-tools:  ## install podman, buildah, runc and debootstrap when missing (apt, as root)
	@command -v podman >/dev/null && command -v buildah >/dev/null && command -v runc >/dev/null \
	  && command -v debootstrap >/dev/null || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman buildah runc debootstrap; }

# Stands in for python:3.12-slim where no registry is reachable: bookworm minbase + python3.
image-base: image-tools  ## the local Debian base image (when no registry is reachable)
	@$(PODMAN) image exists $(BASE_IMAGE) || { set -e; rm -rf $(BASE_ROOTFS); \
	  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
	    bookworm $(BASE_ROOTFS) $(DEB_MIRROR); \
	  rm -rf $(BASE_ROOTFS)/var/cache/apt/archives/*.deb $(BASE_ROOTFS)/var/lib/apt/lists/*; \
	  tar -C $(BASE_ROOTFS) -c . | $(PODMAN) import --change 'CMD ["python3"]' \
	    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	    - $(BASE_IMAGE); rm -rf $(BASE_ROOTFS); }

# No --layers: with vfs every cached layer is a full copy of the filesystem, which made a
# rebuild 3x slower than redoing the (fast) uv sync. The image it replaces is removed.
image: image-base  ## build the container image (buildah)
	@t0=$$(date +%s); old=$$($(PODMAN) image inspect -f '{{.Id}}' $(IMAGE) 2>/dev/null); \
	$(BUILDAH) bud --isolation chroot --network host --format docker \
	  --ulimit nofile=$(IMAGE_NOFILE):$(IMAGE_NOFILE) --ulimit nproc=4096:4096 \
	  --secret id=pipcert,src=$(PIP_CA) --build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(IMAGE) . || exit 1; \
	echo "image $(IMAGE) built in $$(( $$(date +%s) - t0 ))s"; \
	new=$$($(PODMAN) image inspect -f '{{.Id}}' $(IMAGE)); \
	[ -z "$$old" ] || [ "$$old" = "$$new" ] || $(PODMAN) rmi "$$old" >/dev/null 2>&1 || true; \
	$(PODMAN) image inspect $(IMAGE) -f 'size={{.Size}} user={{.Config.User}}'

image-smoke:  ## run the image against a database and probe it (podman)
	bash scripts/image-smoke.sh

.DEFAULT_GOAL := $(_image_mk_goal)
