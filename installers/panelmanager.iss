; Inno Setup script for the Windows installer. installers\build.ps1 builds the PyInstaller
; folder dist\PanelManager first, then runs:
;   iscc /DAppVersion=<version from pyproject.toml> installers\panelmanager.iss
; Every Source below is a file the build produces (tests/test_packaging.py checks).
#ifndef AppVersion
  #error Pass the version from pyproject.toml: iscc /DAppVersion=X.Y.Z installers\panelmanager.iss (installers\build.ps1 does)
#endif

[Setup]
; The same AppId for every version, so a new installer upgrades the installed one in place.
AppId={{6A4F2C1E-3B7D-4E59-9C21-8D0F5B7A9E13}
AppName=Panel Manager
AppVersion={#AppVersion}
AppVerName=Panel Manager {#AppVersion}
AppPublisher=Panel Manager
DefaultDirName={autopf}\Panel Manager
DefaultGroupName=Panel Manager
DisableProgramGroupPage=yes
OutputDir=..\dist
OutputBaseFilename=PanelManager-{#AppVersion}-Setup
SetupIconFile=..\resources\icons\panelmanager.ico
UninstallDisplayIcon={app}\PanelManager.exe
Compression=lzma2
SolidCompression=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
CloseApplications=yes
; The registry (registry.sqlite3) and settings live in the user's data folder
; (%LOCALAPPDATA%\PanelManager), never under {app}: an upgrade replaces the program
; files only, and neither an upgrade nor an uninstall touches the patient registry.

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[InstallDelete]
; Program files of the previous version (a PyInstaller folder), never user data.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "..\dist\PanelManager\PanelManager.exe"; DestDir: "{app}"; Flags: ignoreversion
Source: "..\dist\PanelManager\panelmanager-cli.exe"; DestDir: "{app}"; Flags: ignoreversion
Source: "..\dist\PanelManager\_internal\*"; DestDir: "{app}\_internal"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Panel Manager"; Filename: "{app}\PanelManager.exe"; WorkingDir: "{userdocs}"
Name: "{group}\Panel Manager command line"; Filename: "{cmd}"; Parameters: "/k ""{app}\panelmanager-cli.exe"" --help"; WorkingDir: "{userdocs}"
Name: "{group}\Uninstall Panel Manager"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Panel Manager"; Filename: "{app}\PanelManager.exe"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Run]
Filename: "{app}\PanelManager.exe"; Description: "Open Panel Manager"; Flags: nowait postinstall skipifsilent
