# Sourced first by the scripts that need root (packages, servers that drop to
# their own users): as root they run as they are; elsewhere they ask sudo,
# where there is one, with the same arguments.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "${0##*/}: run as root" >&2; exit 1; }
    exec sudo -E "$0" "$@"
fi
