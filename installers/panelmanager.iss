; Inno Setup script for the Windows installer. Build the PyInstaller folder first
; (installers/panelmanager.spec), then: iscc installers\panelmanager.iss
[Setup]
AppName=Panel Manager
AppVersion=0.1.0
AppPublisher=Panel Manager
DefaultDirName={autopf}\Panel Manager
DefaultGroupName=Panel Manager
OutputBaseFilename=PanelManager-Setup
Compression=lzma2
SolidCompression=yes
PrivilegesRequired=lowest
; The registry lives in the user's data folder, never in Program Files, so upgrades and
; uninstalls leave patient data where it is.

[Files]
Source: "..\dist\PanelManager\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\Panel Manager"; Filename: "{app}\PanelManager.exe"
Name: "{autodesktop}\Panel Manager"; Filename: "{app}\PanelManager.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked
