; Inno Setup script for Hearth on Windows: a per-user install of the PyInstaller one-folder build.
; Not built or tested here (no Windows machine); see packaging/README.md.
;
;   .venv\Scripts\pyinstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\hearth.spec
;   iscc packaging\windows\hearth.iss          -> dist\Hearth-0.1.0-setup.exe
;
; The build has hearth.exe (console: the CLI) and HearthApp.exe (no console: the window); the Start menu and
; "Open with Hearth" on folders start HearthApp.exe. Nothing needs administrator rights. Data stays in
; %LOCALAPPDATA%\hearth (platformdirs) and survives an uninstall.

#define AppVersion "0.1.0"

[Setup]
AppId={{6B4E1C0B-2F7A-4B8E-9E51-3C0FFEE0A1B2}
AppName=Hearth
AppVersion={#AppVersion}
AppPublisher=Hearth
DefaultDirName={localappdata}\Programs\Hearth
DefaultGroupName=Hearth
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=Hearth-{#AppVersion}-setup
Compression=lzma2/fast
SolidCompression=no
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesEnvironment=yes
UninstallDisplayIcon={app}\HearthApp.exe

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked
Name: "addtopath"; Description: "Add the hearth command to PATH (for this user)"

[Files]
Source: "..\..\dist\hearth\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Hearth"; Filename: "{app}\HearthApp.exe"
Name: "{userdesktop}\Hearth"; Filename: "{app}\HearthApp.exe"; Tasks: desktopicon

[Registry]
; "Open with Hearth" on folders (and on a folder's background): the window indexes the folder.
Root: HKCU; Subkey: "Software\Classes\Directory\shell\Hearth"; ValueType: string; ValueData: "Open with Hearth"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Classes\Directory\shell\Hearth"; ValueName: "Icon"; ValueType: string; ValueData: "{app}\HearthApp.exe"
Root: HKCU; Subkey: "Software\Classes\Directory\shell\Hearth\command"; ValueType: string; ValueData: """{app}\HearthApp.exe"" ""%1"""
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\HearthApp.exe"; Description: "Start Hearth"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Current) then
    Result := True
  else
    Result := Pos(';' + Lowercase(Dir) + ';', ';' + Lowercase(Current) + ';') = 0;
end;
