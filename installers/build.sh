#!/usr/bin/env bash
# Build the Linux desktop bundle: dist/PanelManager/ with
#   PanelManager        the desktop app
#   panelmanager-cli    the command line (same commands as `panelmanager`)
# The wheel is built first and installed (not editable) into a clean virtual environment
# with PyInstaller, so the bundle holds exactly the declared dependencies.
#   installers/build.sh            build
#   installers/build.sh --smoke    build, then run installers/smoke_test.py on the bundle
set -euo pipefail
cd "$(dirname "$0")/.."
work=build/bundle
rm -rf "$work" dist/PanelManager
python3 -m venv "$work/venv"
"$work/venv/bin/pip" wheel -q --no-deps -w "$work/wheel" .
"$work/venv/bin/pip" install -q "$work"/wheel/panelmanager-*.whl "pyinstaller>=6.10"
"$work/venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath dist --workpath "$work/pyinstaller" installers/panelmanager.spec
# libpython carries its debugging symbols (17 MB of 23); the Qt and NumPy libraries are stripped.
if command -v strip >/dev/null; then
    find dist/PanelManager/_internal -maxdepth 1 -name 'libpython3*.so*' -exec strip --strip-unneeded {} +
fi
install -m 644 installers/panelmanager.desktop dist/PanelManager/panelmanager.desktop
echo "Built dist/PanelManager ($(du -sh dist/PanelManager | cut -f1))"
if [[ "${1:-}" == "--smoke" ]]; then
    python3 installers/smoke_test.py --cli dist/PanelManager/panelmanager-cli --synthea ../shared/data/synthea-csv-small
fi
