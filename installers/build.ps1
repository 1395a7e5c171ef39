# Build the Windows desktop bundle and installer:
#   dist\PanelManager\PanelManager.exe        the desktop app (no console window)
#   dist\PanelManager\panelmanager-cli.exe    the command line (same commands as `panelmanager`)
#   dist\PanelManager-<version>-Setup.exe     the installer (when Inno Setup's iscc is on PATH)
# The wheel is built first and installed (not editable) into a clean virtual environment with
# PyInstaller, so the bundle holds exactly the declared dependencies.
#   powershell -ExecutionPolicy Bypass -File installers\build.ps1 [-Smoke]
param([switch]$Smoke)
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)

function Invoke-Checked {
    & $args[0] @($args | Select-Object -Skip 1)
    if ($LASTEXITCODE -ne 0) { throw "$($args[0]) failed with exit code $LASTEXITCODE" }
}

$work = "build\bundle"
if (Test-Path $work) { Remove-Item -Recurse -Force $work }
if (Test-Path "dist\PanelManager") { Remove-Item -Recurse -Force "dist\PanelManager" }
Invoke-Checked py -3 -m venv "$work\venv"
Invoke-Checked "$work\venv\Scripts\pip.exe" wheel -q --no-deps -w "$work\wheel" .
$wheel = (Get-ChildItem "$work\wheel\panelmanager-*.whl" | Select-Object -First 1).FullName
Invoke-Checked "$work\venv\Scripts\pip.exe" install -q $wheel "pyinstaller>=6.10"
Invoke-Checked "$work\venv\Scripts\pyinstaller.exe" --noconfirm --clean --log-level WARN `
    --distpath dist --workpath "$work\pyinstaller" installers\panelmanager.spec
$version = (& "$work\venv\Scripts\python.exe" -c "import importlib.metadata as m; print(m.version('panelmanager'))").Trim()
Write-Host "Built dist\PanelManager (version $version)"

if (Get-Command iscc -ErrorAction SilentlyContinue) {
    Invoke-Checked iscc "/DAppVersion=$version" installers\panelmanager.iss
} else {
    Write-Host "Inno Setup (iscc) is not on PATH: skipped the installer."
}
if ($Smoke) {
    Invoke-Checked py -3 installers\smoke_test.py --cli dist\PanelManager\panelmanager-cli.exe --synthea ..\shared\data\synthea-csv-small
}
