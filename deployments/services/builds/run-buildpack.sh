#!/bin/sh
# Berth's buildpack driver, run by `docker build` in the stack's build image: detect, compile, release.
#   run-buildpack.sh --network=on|off NAME...   the buildpacks under /berth/buildpacks, tried in this order
# A line starting with " !     " is the reason of a failure; Berth shows the last one as the build's error.
set -u
build_dir=/app cache_dir=/workspace/cache env_dir=/workspace/env meta=/workspace/meta
mkdir -p "$meta" "$cache_dir" "$env_dir"
network="${1#--network=}"
shift
chosen="" tried="" name=""
for pack in "$@"; do
    dir="/berth/buildpacks/$pack"
    for script in detect compile; do
        if [ ! -x "$dir/bin/$script" ]; then
            echo " !     the buildpack $pack has no executable bin/$script"
            exit 1
        fi
    done
    if name=$("$dir/bin/detect" "$build_dir"); then
        chosen="$pack"
        break
    fi
    tried="${tried}${tried:+, }${pack}"
done
if [ -z "$chosen" ]; then
    echo " !     no buildpack detected this app; tried: ${tried}"
    exit 1
fi
echo "-----> ${name:-$chosen} app detected (buildpack $chosen)"
echo "$chosen" > "$meta/buildpack"
if ! BERTH_NETWORK="$network" "$dir/bin/compile" "$build_dir" "$cache_dir" "$env_dir"; then
    if [ "$network" = off ]; then
        echo " !     bin/compile of the buildpack $chosen failed (builds have no network here: a buildpack must bring what it installs)"
    else
        echo " !     bin/compile of the buildpack $chosen failed"
    fi
    exit 1
fi
if [ -x "$dir/bin/release" ]; then
    if ! "$dir/bin/release" "$build_dir" > "$meta/release.yml"; then
        echo " !     bin/release of the buildpack $chosen failed"
        exit 1
    fi
fi
echo "-----> Compiled with $chosen"
